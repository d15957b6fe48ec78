"""The audit trail at scale: who acted, newest first, ids searched exactly, words by
trigram (PostgreSQL only)."""

from django.conf import settings
from django.db import migrations, models

from backoffice.db import trigram_indexes


class Migration(migrations.Migration):

    dependencies = [
        ('backoffice', '0005_notes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='staffaction',
            index=models.Index(fields=['actor', '-created_at', '-id'], name='staffaction_actor_recent'),
        ),
        migrations.AddIndex(
            model_name='staffaction',
            index=models.Index(fields=['-created_at', '-id'], name='staffaction_recent'),
        ),
        migrations.AddIndex(
            model_name='staffaction',
            index=models.Index(fields=['target_id'], name='staffaction_target_id'),
        ),
        migrations.AddIndex(
            model_name='staffaction',
            index=models.Index(condition=models.Q(('upstream_request_id', ''), _negated=True), fields=['upstream_request_id'], name='staffaction_request_id'),
        ),
        migrations.AddIndex(
            model_name='staffaction',
            index=models.Index(condition=models.Q(('process_id', ''), _negated=True), fields=['process_id'], name='staffaction_process_id'),
        ),
        # The trail's search by words (backoffice/changelist.py SearchPlan.words).
        trigram_indexes("backoffice_staffaction", upper=["actor_label", "action", "target_repr"]),
    ]
