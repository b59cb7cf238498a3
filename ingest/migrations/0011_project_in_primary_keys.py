from django.db import migrations

from analytics.distribution import project_in_primary_key

# Every primary key gains the project, as distributing the tables by project requires
# (analytics/distribution.py). The partitioned tables keep the day they are partitioned by.


class Migration(migrations.Migration):
    dependencies = [("ingest", "0010_session_hour_pages_and_times")]

    operations = [
        project_in_primary_key("ingest_session", "id"),
        project_in_primary_key("ingest_event", "id", "occurred_at"),
        project_in_primary_key("ingest_movementsample", "id", "occurred_at"),
        project_in_primary_key("ingest_hourlycount", "id"),
        project_in_primary_key("ingest_hourlycountdelta", "id"),
    ]
