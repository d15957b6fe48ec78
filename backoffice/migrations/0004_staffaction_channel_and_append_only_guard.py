import django.db.models
from django.db import migrations

import backoffice.assurance
from backoffice.db import append_only_guard

CHANNELS = [("web", "Web"), ("cli", "Command line"), ("task", "Background task"),
            ("webhook", "Webhook")]
HELP = "How the work was started: web, command line, background task or webhook."


class Migration(migrations.Migration):
    dependencies = [("backoffice", "0003_staffaction_outcome_unknown")]

    operations = [
        migrations.AlterModelOptions(
            name="staffaction",
            options={"base_manager_name": "objects", "ordering": ["-created_at", "-id"],
                     "verbose_name": "staff action"},
        ),
        # Rows written before channels were recorded keep an empty one: nobody knows
        # now how they were started. Adding a column with a constant default updates no
        # row, so the append-only trigger has nothing to refuse.
        migrations.AddField(
            model_name="staffaction",
            name="channel",
            field=django.db.models.CharField(blank=True, choices=CHANNELS, db_index=True,
                                             default="", editable=False, help_text=HELP,
                                             max_length=16),
        ),
        migrations.AlterField(
            model_name="staffaction",
            name="channel",
            field=django.db.models.CharField(blank=True, choices=CHANNELS, db_index=True,
                                             default=backoffice.assurance.channel,
                                             editable=False, help_text=HELP, max_length=16),
        ),
        append_only_guard("backoffice_staffaction"),
    ]
