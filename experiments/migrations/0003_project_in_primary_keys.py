from django.db import migrations

from analytics.distribution import project_in_primary_key

# Exposures and conversions are distributed by project with the event tables
# (analytics/distribution.py), which requires the project in their primary keys.


class Migration(migrations.Migration):
    dependencies = [("experiments", "0002_experiment_settings")]

    operations = [
        project_in_primary_key("experiments_assignment", "id"),
        project_in_primary_key("experiments_conversion", "id"),
    ]
