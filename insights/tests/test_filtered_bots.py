"""filteredBots in GET /v1/projects/<id>/stats: bot requests refused in the range, by arrival hour."""

from datetime import UTC, datetime

import pytest

from projects.models import FilteredBotHour

pytestmark = pytest.mark.django_db


def refused(project, *hours_and_counts):
    FilteredBotHour.objects.bulk_create(
        FilteredBotHour(project=project, hour=datetime(2025, 3, day, hour, tzinfo=UTC), requests=count)
        for day, hour, count in hours_and_counts
    )


def test_stats_count_the_bot_requests_of_the_hours_in_the_range(admin_api, tenant, other_tenant):
    # 03-09 23:00 and 03-12 00:00 are outside 2025-03-10..2025-03-11; the other tenant never counts.
    refused(tenant.project, (9, 23, 100), (10, 0, 2), (10, 13, 5), (11, 23, 7), (12, 0, 1000))
    refused(other_tenant.project, (10, 13, 40))
    response = admin_api.get(f"/v1/projects/{tenant.project.id}/stats?from=2025-03-10&to=2025-03-11")
    assert response.status_code == 200
    assert response.json()["filteredBots"] == {"requests": 14}


def test_an_hour_counts_when_it_begins_in_the_range(admin_api, tenant):
    refused(tenant.project, (10, 13, 5), (10, 14, 3))
    query = "from=2025-03-10T13:30:00Z&to=2025-03-10T14:30:00Z"
    assert admin_api.get(f"/v1/projects/{tenant.project.id}/stats?{query}").json()["filteredBots"] == {"requests": 3}


def test_no_bots_is_zero(admin_api, tenant):
    assert admin_api.get(f"/v1/projects/{tenant.project.id}/stats").json()["filteredBots"] == {"requests": 0}
