
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('ingest', '0012_project_in_session_indexes'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='session',
            name='session_session_id',
        ),
    ]
