"""manage.py generate_traffic: realistic rows, exactly as many events as asked, fast paths."""

from datetime import timedelta
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Max, Min
from django.utils import timezone

from ingest import partitions
from ingest.models import Event, MovementSample, Session

pytestmark = pytest.mark.django_db


def test_it_writes_the_asked_number_of_events_with_sessions_and_movement(tenant, other_tenant, capsys):
    before = timezone.now()
    call_command("generate_traffic", str(tenant.project.id), "--days", "3", "--events", "1500", "--seed", "7")
    after = timezone.now()

    events = Event.objects.filter(project=tenant.project)
    assert events.count() == 1500
    span = events.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    assert before - timedelta(days=3) <= span["first"] and span["last"] <= after
    sessions = Session.objects.filter(project=tenant.project)
    assert set(events.values_list("session_id", flat=True)) == set(sessions.values_list("pk", flat=True))
    types = dict(events.values_list("type").annotate(n=Count("id")))
    assert types["page_view"] > 1000 and len(types) >= 4
    assert events.filter(type="page_view").values("path").distinct().count() >= 5
    assert sessions.values("referrer").distinct().count() >= 3
    assert sessions.values("language").distinct().count() >= 3
    assert sessions.filter(screen_width__isnull=False).values("screen_width").distinct().count() >= 3
    samples = MovementSample.objects.filter(project=tenant.project)
    assert set(samples.values_list("kind", flat=True).distinct()) == {"click", "move", "scroll"}
    assert not samples.filter(viewport_width__isnull=True).exists()
    assert not Event.objects.filter(project=other_tenant.project).exists()
    out = capsys.readouterr().out
    assert "Wrote 1500 events" in out
    # The days that ended two hours ago are sealed.
    assert "Sealed 2 day(s)" in out or "Sealed 3 day(s)" in out
    # Rows are written in time order, as ingest writes them (the index scans rely on it).
    times = list(events.order_by("pk").values_list("occurred_at", flat=True))
    in_order = sum(earlier <= later for earlier, later in pairwise(times))
    assert in_order / (len(times) - 1) > 0.95


def test_a_second_run_adds_to_the_same_project(tenant):
    for _ in range(2):
        call_command("generate_traffic", "shop", "--days", "1", "--events", "200", "--seed", "1")
    assert Event.objects.filter(project=tenant.project).count() == 400


def test_unknown_projects_and_bad_sizes_are_refused(tenant):
    with pytest.raises(CommandError, match="No single project"):
        call_command("generate_traffic", "nowhere", "--events", "10")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("generate_traffic", "shop", "--events", "0")


def test_every_generated_day_has_its_partition(tenant):
    call_command("generate_traffic", "shop", "--days", "3", "--events", "300", "--seed", "2")
    today = timezone.now().date()
    for table in partitions.PARTITIONED_TABLES:
        days = partitions.day_partitions(table)
        assert all(today - timedelta(days=back) in days for back in range(4))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingest_event_default")
        assert cursor.fetchone()[0] == 0
