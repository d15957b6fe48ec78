from django.db import migrations

from backoffice.db import append_only


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_initial")]
    operations = [append_only("billing_ledgerentry")]
