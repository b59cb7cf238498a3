"""After erasures, every stats number is what it would be had those visitors never come: the
API's answers equal the numbers counted from the remaining raw rows (insights' oracle), on
random traffic written by the ingest write path, before and after compaction."""

import random
from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from analytics.http import iso
from ingest import services as ingest_services
from ingest.models import HourlyCount, HourlyCountDelta, Session, SessionHour
from ingest.synthetic import generate_traffic
from insights.serializers import TrafficStatsSerializer
from insights.tests import reference
from insights.time_ranges import Interval, TimeRange
from rights.tests.conftest import visit

pytestmark = pytest.mark.django_db


def api_equals_raw(admin_api, project, time_range: TimeRange, interval: Interval) -> None:
    query = {"from": iso(time_range.start), "to": iso(time_range.end), "interval": str(interval)}
    response = admin_api.get(f"/v1/projects/{project.id}/stats", query)
    assert response.status_code == 200, response.content
    expected = reference.traffic_stats(project_id=project.id, time_range=time_range, interval=interval)
    # Through JSON both ways, as the endpoint renders it.
    assert response.json() == orjson.loads(orjson.dumps(TrafficStatsSerializer.render(expected))), (
        time_range,
        interval,
    )


def test_every_stats_number_is_as_if_the_erased_visitors_never_came(tenant, other_tenant, admin_api):
    rng = random.Random(11)
    end = timezone.now().replace(microsecond=0)
    start = end - timedelta(days=3)
    for project, seed in ((tenant.project, 1), (other_tenant.project, 2)):
        generate_traffic(project_id=project.id, start=start, end=end, events=3000, seed=seed, samples_per_view=1)
    project = tenant.project
    anon_ids = sorted(set(Session.objects.filter(project=project).values_list("anon_id", flat=True)))
    # Returning visitors (several sessions) and one-session ones, some counts compacted first.
    erased = rng.sample(anon_ids, 25)
    for n, anon_id in enumerate(erased):
        if n == 10:
            ingest_services.compact_hourly_counts()
        if n % 5 == 0:  # a later batch of the visitor, its counts still in the deltas
            visit(
                project,
                anon_id=anon_id,
                session_id=f"late-{n}",
                events=[("page_view", "/late", iso(end - timedelta(hours=n))[:19])],
            )
        response = admin_api.delete(f"/v1/projects/{project.id}/visitors/{anon_id}")
        assert response.status_code == 200 and response.json()["deleted"]["sessions"] >= 1
    assert not SessionHour.objects.filter(project=project, anon_id__in=erased).exists()
    for _round in range(2):
        ranges = [
            TimeRange(start=start, end=end + timedelta(hours=1)),
            TimeRange(start=end - timedelta(days=1), end=end),
        ]
        for _ in range(6):
            low = start + timedelta(seconds=rng.randrange(3 * 86400))
            if rng.random() < 0.5:
                low = low.replace(minute=0, second=0)
            ranges.append(TimeRange(start=low, end=low + timedelta(seconds=rng.randrange(3600, 2 * 86400))))
        for time_range in ranges:
            for interval in Interval:
                api_equals_raw(admin_api, project, time_range, interval)
        ingest_services.compact_hourly_counts()
    # Compaction folded the cancelled counts away: no zero or negative row is left.
    assert not HourlyCountDelta.objects.exists()
    assert not HourlyCount.objects.filter(count__lte=0).exists()
    # The other project, untouched, still matches too.
    api_equals_raw(admin_api, other_tenant.project, TimeRange(start=start, end=end + timedelta(hours=1)), Interval.DAY)
