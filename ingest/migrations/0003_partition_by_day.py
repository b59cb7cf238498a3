from django.db import migrations

from ingest.partitions import PARTITIONED_TABLES, partition_table


def partition_tables(apps, schema_editor):
    for table in PARTITIONED_TABLES:
        partition_table(table, connection=schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("ingest", "0002_lean_indexes")]

    operations = [migrations.RunPython(partition_tables, migrations.RunPython.noop, elidable=False)]
