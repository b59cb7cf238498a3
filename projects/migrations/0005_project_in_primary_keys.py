from django.db import migrations

from analytics.distribution import project_in_primary_key

# The bot counts are distributed by project with the event tables (analytics/distribution.py),
# which requires the project in their primary key.


class Migration(migrations.Migration):
    dependencies = [("projects", "0004_project_time_zone")]

    operations = [project_in_primary_key("projects_filteredbothour", "id")]
