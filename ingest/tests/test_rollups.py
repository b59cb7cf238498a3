"""The dashboard's hourly rollups: written by the ingest statement, compacted,
rebuilt and swept, and always giving the numbers the raw events give."""

import random
from datetime import timedelta

import pytest
from django.db import connection

from ingest import selectors, services
from ingest.models import HourlyCount, HourlyCountDelta, SessionHour
from ingest.tests.factories import at
from ingest.time_ranges import Interval, TimeRange

pytestmark = pytest.mark.django_db

RECEIVED = at("2025-03-12 12:00")
PAGES = ["/", "/pricing", "/docs", "/blog/post-1", "/signup"]
TYPES = ["page_view", "page_view", "page_view", "cta_click", "signup"]


def ms(text: str) -> int:
    return int(at(text).timestamp() * 1000)


def ingest(project, session_id: str, events: list[tuple[str, str, str]], *, referrer: str = "", anon_id: str = "a"):
    """One batch of (type, path, time) events, received at RECEIVED: every one of them late."""
    payload = {
        "session": {"sessionId": session_id, "anonId": anon_id, "referrer": referrer, "language": "en"},
        "events": [{"type": kind, "path": path, "ts": ms(when)} for kind, path, when in events],
        "movement": [],
    }
    return services.ingest_batch(project_id=project.id, payload=payload, received_at=RECEIVED)


def stats(project, start: str, end: str, *, interval: Interval = Interval.HOUR, from_rollups: bool):
    return selectors.traffic_stats(
        project_id=project.id,
        time_range=TimeRange(start=at(start), end=at(end)),
        interval=interval,
        limit=50,
        from_rollups=from_rollups,
    )


def session_hours(project) -> set[tuple]:
    return set(SessionHour.objects.filter(project=project).values_list("hour", "session_id", "events", "page_views"))


def test_it_counts_a_late_event_in_its_hour(tenant):
    project = tenant.project
    ingest(project, "s1", [("page_view", "/", "2025-03-10 10:30"), ("signup", "/", "2025-03-12 11:59")])
    ingest(project, "s1", [("page_view", "/pricing", "2025-03-10 10:45")])
    [(hour_a, _, events_a, views_a), (hour_b, _, events_b, views_b)] = sorted(session_hours(project))
    assert (hour_a, events_a, views_a) == (at("2025-03-10 10:00"), 2, 2)
    assert (hour_b, events_b, views_b) == (at("2025-03-12 11:00"), 1, 0)
    early = stats(project, "2025-03-10 10:00", "2025-03-10 11:00", from_rollups=True)
    assert (early.totals.page_views, early.totals.sessions, early.totals.bounced_sessions) == (2, 1, 0)
    assert [(row.value, row.count) for row in early.top_paths] == [("/", 1), ("/pricing", 1)]


def test_a_session_split_between_an_edge_and_whole_hours_is_one_session(tenant):
    project = tenant.project
    # One page view in the partial first hour (raw), one in a whole hour (rollup): one session
    # with two page views, so no bounce; s2's only page view is in the partial last hour.
    ingest(project, "s1", [("page_view", "/", "2025-03-10 10:30"), ("page_view", "/docs", "2025-03-10 11:10")])
    ingest(project, "s2", [("page_view", "/", "2025-03-10 12:20")], referrer="https://t.co/")
    ingest(project, "s3", [("page_view", "/", "2025-03-10 12:40")])
    found = stats(project, "2025-03-10 10:15", "2025-03-10 12:30", from_rollups=True)
    assert found.totals == selectors.Totals(
        page_views=3, events=3, sessions=2, visitors=1, sessions_with_page_view=2, bounced_sessions=1
    )
    assert [(row.value, row.count) for row in found.top_referrers] == [("", 1), ("https://t.co/", 1)]
    assert [(bucket.page_views, bucket.sessions) for bucket in found.series] == [(1, 1), (1, 1), (1, 1)]
    assert found == stats(project, "2025-03-10 10:15", "2025-03-10 12:30", from_rollups=False)


def test_a_session_keeps_the_dimensions_of_its_first_batch(tenant):
    project = tenant.project
    ingest(project, "s1", [("page_view", "/", "2025-03-10 10:30")], referrer="https://first.example/")
    ingest(project, "s1", [("page_view", "/", "2025-03-10 14:30")], referrer="https://second.example/")
    found = stats(project, "2025-03-10 00:00", "2025-03-11 00:00", from_rollups=True)
    assert [(row.value, row.count) for row in found.top_referrers] == [("https://first.example/", 1)]


def spans(project) -> dict[str, list[bool]]:
    """Per session id, the marks of its rows in hour order."""
    found: dict[str, list[bool]] = {}
    for session_id, marked in (
        SessionHour.objects.filter(project=project).order_by("hour").values_list("session__session_id", "spans_hours")
    ):
        found.setdefault(session_id, []).append(marked)
    return found


def test_a_session_that_reaches_a_second_hour_marks_its_first_one(tenant):
    project = tenant.project
    ingest(project, "s1", [])  # a first batch with movement only: no hour yet
    ingest(project, "s1", [("page_view", "/", "2025-03-10 10:30")])
    ingest(project, "s1", [("page_view", "/", "2025-03-10 10:40")])
    ingest(project, "s2", [("page_view", "/", "2025-03-10 10:30")])
    assert spans(project) == {"s1": [False], "s2": [False]}
    ingest(project, "s1", [("page_view", "/docs", "2025-03-10 09:59")])  # late, an hour before
    ingest(project, "s2", [("page_view", "/", "2025-03-10 10:50"), ("signup", "/", "2025-03-10 11:05")])
    assert spans(project) == {"s1": [True, True], "s2": [True, True]}
    found = stats(project, "2025-03-10 00:00", "2025-03-11 00:00", from_rollups=True)
    assert (found.totals.sessions, found.totals.page_views, found.totals.bounced_sessions) == (2, 5, 0)
    assert found == stats(project, "2025-03-10 00:00", "2025-03-11 00:00", from_rollups=False)


def test_a_retried_batch_adds_nothing_to_the_rollups(tenant):
    project = tenant.project
    payload = {
        "session": {"sessionId": "s1", "anonId": "a"},
        "events": [{"id": "e1", "type": "page_view", "path": "/", "ts": ms("2025-03-10 10:30")}],
        "movement": [],
    }
    for _ in range(2):
        services.ingest_batch(project_id=project.id, payload=payload, received_at=RECEIVED)
    assert session_hours(project) == {(at("2025-03-10 10:00"), SessionHour.objects.get().session_id, 1, 1)}
    assert sum(HourlyCountDelta.objects.values_list("count", flat=True)) == 2  # the type and the path


def test_compaction_folds_the_batches_counts_and_keeps_every_total(tenant, other_tenant):
    project = tenant.project
    for n in range(3):
        ingest(project, f"s{n}", [("page_view", "/", "2025-03-10 10:30"), ("signup", "/", "2025-03-10 11:30")])
    ingest(other_tenant.project, "x", [("page_view", "/", "2025-03-10 10:30")])
    before = stats(project, "2025-03-10 00:00", "2025-03-11 00:00", from_rollups=True)
    assert HourlyCountDelta.objects.count() == 3 * 3 + 2
    assert services.compact_hourly_counts() == 3 + 2
    assert not HourlyCountDelta.objects.exists()
    assert sorted(HourlyCount.objects.filter(project=project).values_list("hour", "dimension", "value", "count")) == [
        (at("2025-03-10 10:00"), "path", "/", 3),
        (at("2025-03-10 10:00"), "type", "page_view", 3),
        (at("2025-03-10 11:00"), "type", "signup", 3),
    ]
    assert stats(project, "2025-03-10 00:00", "2025-03-11 00:00", from_rollups=True) == before
    # Later batches of a compacted hour land in the deltas again and are folded in next time.
    ingest(project, "late", [("page_view", "/", "2025-03-10 10:50")])
    assert services.compact_hourly_counts() == 2
    assert HourlyCount.objects.get(project=project, dimension="path").count == 4
    assert stats(project, "2025-03-10 00:00", "2025-03-11 00:00", from_rollups=True).top_paths[0].count == 4


def test_the_rebuild_from_raw_events_matches_what_ingest_wrote(tenant):
    project = tenant.project
    ingest(project, "s1", [("page_view", "/", "2025-03-10 23:50"), ("page_view", "/docs", "2025-03-11 00:10")])
    ingest(project, "s2", [("cta_click", "/", "2025-03-11 00:20")])
    written = session_hours(project)
    marks = spans(project)
    services.compact_hourly_counts()
    counts = set(HourlyCount.objects.values_list("hour", "dimension", "value", "count"))
    assert services.rebuild_rollups(start=at("2025-03-10 23:00"), end=at("2025-03-11 00:30")) == 2
    assert session_hours(project) == written
    assert spans(project) == marks == {"s1": [True, True], "s2": [False]}
    assert set(HourlyCount.objects.values_list("hour", "dimension", "value", "count")) == counts


def test_the_rollups_give_the_numbers_of_the_raw_events(tenant, other_tenant):
    """Random traffic over three days, all of it late, some sent twice; random ranges,
    aligned or not; before and after compaction."""
    rng = random.Random(8)
    origin = at("2025-03-09 00:00")
    for n in range(60):
        project = tenant.project if n % 6 else other_tenant.project
        first = origin + timedelta(seconds=rng.randrange(3 * 86400))
        for _batch in range(rng.randint(1, 3)):
            events = []
            for _event in range(rng.randint(0, 6)):
                moment = first + timedelta(seconds=rng.randrange(3 * 3600))
                events.append((rng.choice(TYPES), rng.choice(PAGES), moment.isoformat(sep=" ")[:26]))
            ingest(project, f"s{n}", events, referrer=rng.choice(["", "https://t.co/"]), anon_id=f"a{n % 17}")
    # Every session with more than one row has all of them marked.
    for marks in spans(tenant.project).values():
        assert len(marks) == 1 or all(marks)
    for round_ in range(2):
        for _range in range(25):
            start = origin + timedelta(seconds=rng.randrange(3 * 86400), microseconds=rng.randrange(10**6))
            if rng.random() < 0.3:
                start = start.replace(minute=0, second=0, microsecond=0)
            end = start + timedelta(seconds=rng.randrange(1, 2 * 86400))
            for interval in Interval:
                scope = {
                    "project_id": tenant.project.id,
                    "time_range": TimeRange(start=start, end=end),
                    "interval": interval,
                    "limit": 50,
                }
                raw = selectors.traffic_stats(**scope, from_rollups=False)
                assert selectors.traffic_stats(**scope, from_rollups=True) == raw, (round_, start, end, interval)
                assert selectors.traffic_stats(**{**scope, "limit": 3}, from_rollups=True) == selectors.traffic_stats(
                    **{**scope, "limit": 3}, from_rollups=False
                )
        services.compact_hourly_counts()


def test_a_batch_reads_a_handful_of_rollup_rows_however_many_the_project_has(tenant):
    project = tenant.project
    ingest(project, "old", [("page_view", "/", "2025-03-01 09:00")])
    [old] = SessionHour.objects.filter(project=project)
    SessionHour.objects.bulk_create(
        SessionHour(
            project=project,
            hour=old.hour - timedelta(hours=n),
            session_id=old.session_id,
            events=1,
            page_views=1,
            anon_id="a",
            spans_hours=False,
        )
        for n in range(1, 2001)
    )

    def rollup_rows_read() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) FROM pg_stat_xact_user_tables "
                "WHERE relname = %s",
                [SessionHour._meta.db_table],
            )
            return cursor.fetchone()[0]

    before = rollup_rows_read()
    # A session whose events start to span hours: its first hour's row is updated too.
    ingest(project, "s1", [("page_view", "/", "2025-03-10 10:30")])
    ingest(project, "s1", [("page_view", "/", "2025-03-10 11:30")])
    assert rollup_rows_read() - before <= 10
