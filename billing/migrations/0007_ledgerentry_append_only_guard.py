from django.db import migrations

from backoffice.db import append_only_guard


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_order_unsettled_and_event_outcomes")]

    operations = [
        migrations.AlterModelOptions(
            name="ledgerentry",
            options={"base_manager_name": "objects", "ordering": ["occurred_at", "id"],
                     "verbose_name_plural": "ledger entries"},
        ),
        append_only_guard("billing_ledgerentry"),
    ]
