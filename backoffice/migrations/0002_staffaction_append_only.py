from django.db import migrations

from backoffice.db import append_only


class Migration(migrations.Migration):
    dependencies = [("backoffice", "0001_initial")]
    operations = [append_only("backoffice_staffaction")]
