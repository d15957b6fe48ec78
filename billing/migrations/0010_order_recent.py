"""The order lists' own order, newest first, as one index: a deep page's keys are read
from it alone (backoffice/changelist.py ScaledPaginator)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0009_changelist_indexes'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['-placed_at', '-id'], name='order_recent'),
        ),
    ]
