"""Sealed days give the numbers of the raw events: whole UTC days read from their aggregates,
the rest of the range per session, visitors estimated within their bound; a day that changed
after sealing is never read from its aggregates. The raw numbers are counted in plain Python
by insights/tests/reference.py."""

import dataclasses
import random
import re
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections

from ingest import services, statements
from ingest.models import SESSION_DIMENSIONS, SealedDay, SealedDayCount, SealedDaySession, Session, SessionHour
from ingest.tests.factories import at, ingest_events
from insights import selectors
from insights.tests import reference
from insights.tests.test_rollups import ADDRESSES, LANDINGS, PAGES, REFERRERS, TYPES, USER_AGENTS, countries
from insights.time_ranges import Interval, TimeRange

pytestmark = pytest.mark.django_db

__all__ = ["countries"]  # the fixture, used by name
ORIGIN = at("2025-03-09 00:00")
DAYS = 4
# Long after every day of the traffic: all of them are due.
LATER = at("2025-04-01 00:00")
ZONES = ["UTC", "UTC", "Europe/London", "America/New_York", "Asia/Kolkata"]
# The bound the page and the API state for an estimated visitors count, as a relative error.
BOUND = 0.01


def assert_same(found: selectors.TrafficStats, raw: selectors.TrafficStats) -> int:
    """Every exact number equal; an estimated visitors count (this period's or the previous
    one's) within BOUND of the exact one. Returns how many counts were estimated."""
    estimated = 0
    for name in ("totals", "previous_totals"):
        totals, exact = getattr(found, name), getattr(raw, name)
        if totals is not None and totals.visitors_standard_error is not None:
            estimated += 1
            assert abs(totals.visitors - exact.visitors) <= BOUND * exact.visitors, (name, totals, exact)
            found = dataclasses.replace(
                found, **{name: dataclasses.replace(totals, visitors=exact.visitors, visitors_standard_error=None)}
            )
    assert found == raw
    return estimated


def send_traffic(rng: random.Random, project, *, sessions: int, first_id: int = 0) -> None:
    """Enriched sessions of up to 3 hours (some across a midnight), in 1 to 3 late batches."""
    for n in range(first_id, first_id + sessions):
        first = ORIGIN + timedelta(seconds=rng.randrange(DAYS * 86400))
        visitor = {
            "referrer": rng.choice(REFERRERS),
            "anon_id": f"a{n % 23}",
            "user_agent": rng.choice(USER_AGENTS),
            "landing_url": rng.choice(LANDINGS),
            "client_address": rng.choice(ADDRESSES),
        }
        for _batch in range(rng.randint(1, 3)):
            events = []
            for _event in range(rng.randint(0, 5)):
                moment = first + timedelta(seconds=rng.randrange(3 * 3600), microseconds=rng.randrange(10**6))
                events.append((rng.choice(TYPES), rng.choice(PAGES), moment.isoformat(sep=" ")[:26]))
            ingest_events(project, f"visit{n}", events, **visitor)


def random_range(rng: random.Random) -> TimeRange:
    """Whole UTC days, or a range that starts and ends anywhere, in one of ZONES."""
    zone = rng.choice(ZONES)
    if rng.random() < 0.4:
        start = ORIGIN + timedelta(days=rng.randrange(-1, DAYS))
        return TimeRange(start=start, end=start + timedelta(days=rng.randint(1, DAYS)), time_zone=zone)
    start = ORIGIN + timedelta(seconds=rng.randrange(-86400, DAYS * 86400), microseconds=rng.randrange(10**6))
    return TimeRange(start=start, end=start + timedelta(seconds=rng.randrange(1, (DAYS + 1) * 86400)), time_zone=zone)


def compare_ranges(rng: random.Random, project, *, ranges: int) -> int:
    """Random ranges, per hour and per day, unfiltered and filtered, against the reference;
    returns how many read sealed days (an estimated count)."""
    sessions = list(Session.objects.filter(project=project).values(*SESSION_DIMENSIONS))
    estimated = 0
    for _ in range(ranges):
        time_range = random_range(rng)
        short_enough = time_range.duration <= timedelta(days=2)
        interval = rng.choice([Interval.HOUR, Interval.DAY]) if short_enough else Interval.DAY
        scope = {"project_id": project.id, "time_range": time_range, "interval": interval, "limit": 50}
        estimated += assert_same(selectors.traffic_stats(**scope), reference.traffic_stats(**scope)) > 0
        short = {**scope, "limit": 3}
        assert_same(selectors.traffic_stats(**short), reference.traffic_stats(**short))
        session = rng.choice([session for session in sessions if session["browser"] is not None])
        filtered = {**scope, "filters": {"browser": session["browser"]}}
        found = selectors.traffic_stats(**filtered)
        assert found.totals.visitors_standard_error is None, "a filtered read counts exactly"
        assert found == reference.traffic_stats(**filtered)
    return estimated


def test_sealed_days_give_the_numbers_of_the_raw_events(tenant, other_tenant, countries):
    """Random traffic over four days, sealed; then late events into sealed days, an erased
    visitor, days sealed again: random ranges against the raw rows at every step."""
    rng = random.Random(11)
    project = tenant.project
    send_traffic(rng, project, sessions=70)
    send_traffic(rng, other_tenant.project, sessions=10, first_id=1000)
    sealed = services.seal_due_days(now=LATER)
    hours = SessionHour.objects.filter(project=project).values_list("hour", flat=True)
    assert {result.day for result in sealed if result.project_id == project.id} == {hour.date() for hour in hours}
    assert SealedDaySession.objects.filter(project=project).exists(), "some sessions cross a midnight"
    estimated = compare_ranges(rng, project, ranges=25)
    assert estimated >= 5

    # Late events: into a sealed day, for sessions already there and for new ones.
    send_traffic(rng, project, sessions=8, first_id=70)
    ingest_events(project, "visit3", [("page_view", "/late", "2025-03-10 08:00:00")], anon_id="a3")
    stale = set(SealedDay.objects.filter(project=project, stale=True).values_list("day", flat=True))
    assert stale
    compare_ranges(rng, project, ranges=12)

    # An erased visitor: their days go stale.
    services.seal_due_days(now=LATER, project_id=project.id)
    assert not SealedDay.objects.filter(project=project, stale=True).exists()
    erased = services.erase_visitor_data(project_id=project.id, anon_id="a5")
    assert erased.sessions > 0
    assert SealedDay.objects.filter(project=project, stale=True).exists()
    compare_ranges(rng, project, ranges=12)

    # Sealed again, everything read from the new aggregates.
    services.seal_due_days(now=LATER, project_id=project.id)
    estimated = compare_ranges(rng, project, ranges=20)
    assert estimated >= 3


def test_a_session_that_gains_a_day_leaves_its_first_day_sealed_no_more(tenant):
    project = tenant.project
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:00"), ("page_view", "/a", "2025-03-10 11:00")])
    services.seal_due_days(now=LATER)
    [day] = SealedDay.objects.filter(project=project)
    assert (day.day.isoformat(), day.stale) == ("2025-03-10", False)
    totals = SealedDayCount.objects.get(project=project, day=day.day, dimension="totals")
    assert (totals.sessions, totals.page_views, totals.bounced) == (1, 2, 0)
    # A late event two days on: 10 March no longer holds the whole session.
    ingest_events(project, "s1", [("signup", "/", "2025-03-12 09:00")])
    day.refresh_from_db()
    assert day.stale
    scope = {"project_id": project.id, "time_range": TimeRange(start=at("2025-03-10"), end=at("2025-03-13"))}
    found = selectors.traffic_stats(**scope, interval=Interval.DAY)
    assert found.totals.visitors_standard_error is None
    assert (found.totals.sessions, found.totals.events) == (1, 3)
    services.seal_due_days(now=LATER)
    assert SealedDaySession.objects.filter(project=project).count() == 3, "the session's rows in both days"
    resealed = selectors.traffic_stats(**scope, interval=Interval.DAY)
    assert resealed.totals.visitors_standard_error is not None
    assert assert_same(resealed, reference.traffic_stats(**scope, interval=Interval.DAY)) == 1


def test_only_days_that_ended_two_hours_ago_are_sealed(tenant):
    project = tenant.project
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:00")])
    ingest_events(project, "s2", [("page_view", "/", "2025-03-11 10:00")])
    assert services.days_to_seal(project_id=project.id, now=at("2025-03-12 01:59")) == [at("2025-03-10").date()]
    assert [result.day for result in services.seal_due_days(now=at("2025-03-12 02:00"))] == [
        at("2025-03-10").date(),
        at("2025-03-11").date(),
    ]
    assert services.days_to_seal(project_id=project.id, now=LATER) == []


def test_a_range_without_a_sealed_day_counts_visitors_exactly(tenant):
    project = tenant.project
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:00")])
    services.seal_due_days(now=LATER)
    partial = selectors.session_totals(
        project_id=project.id, time_range=TimeRange(start=at("2025-03-10 01:00"), end=at("2025-03-11"))
    )
    whole = selectors.session_totals(
        project_id=project.id, time_range=TimeRange(start=at("2025-03-10"), end=at("2025-03-11"))
    )
    assert (partial.visitors, partial.visitors_standard_error) == (1, None)
    assert (whole.visitors, whole.sessions) == (1, 1)
    assert whole.visitors_standard_error == pytest.approx(0.0020, abs=0.0001)


def _wait_for_a_statement_waiting_on_a_lock() -> None:
    with connection.cursor() as cursor:
        for _ in range(200):
            # Activity is read once per transaction unless the snapshot is cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the batch never waited for the seal")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("moment", ["while locked", "before the snapshot", "after the snapshot"])
@pytest.mark.parametrize("sealed_before", [False, True])
def test_a_batch_stored_while_its_day_is_sealed_is_never_lost(tenant, moment, sealed_before):
    """A batch stored at any moment of the sealing marks the day stale: one sent while the
    sealer holds the lock waits for it, then sees the day being sealed; one stored while the
    day is aggregated makes the sealing give up. Its events are read per session, never
    missing from the numbers; the day is sealed again later. The same for a day sealed
    before."""
    project = tenant.project
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:00")])
    if sealed_before:
        services.seal_due_days(now=LATER)
        ingest_events(project, "s1", [("page_view", "/docs", "2025-03-10 10:30")])
    day = at("2025-03-10").date()
    assert services.days_to_seal(project_id=project.id, now=LATER) == [day]

    def send():
        try:
            ingest_events(project, "s2", [("page_view", "/late", "2025-03-10 12:00")], anon_id="b")
        finally:
            connections.close_all()

    sender = threading.Thread(target=send)

    def batch_during_the_seal(execute, sql, params, many, context):
        if moment == "while locked" and sql is statements.SEAL_START_SQL[1]:
            sender.start()
            _wait_for_a_statement_waiting_on_a_lock()
        if moment == "before the snapshot" and sql is statements.SEAL_VISITORS_SQL:
            sender.start()
            sender.join()
        result = execute(sql, params, many, context)
        if moment == "after the snapshot" and sql is statements.SEAL_VISITORS_SQL:
            sender.start()
            sender.join()
        return result

    with connection.execute_wrapper(batch_during_the_seal):
        sealed = services.seal_day(project_id=project.id, day=day)
    sender.join()
    # A batch that waited for the lock may mark the day stale before the aggregation's
    # snapshot, after it, or (when it reaches the day's row last) once the day is sealed.
    assert sealed is None or moment == "while locked"
    assert SealedDay.objects.get(project=project, day=day).stale
    scope = {"project_id": project.id, "time_range": TimeRange(start=at("2025-03-10"), end=at("2025-03-11"))}
    found = selectors.traffic_stats(**scope, interval=Interval.DAY)
    assert (found.totals.sessions, found.totals.visitors, found.totals.visitors_standard_error) == (2, 2, None)
    assert found == reference.traffic_stats(**scope, interval=Interval.DAY)
    [resealed_day] = services.seal_due_days(now=LATER)
    assert resealed_day.locked_seconds < 1
    resealed = selectors.traffic_stats(**scope, interval=Interval.DAY)
    assert (resealed.totals.sessions, resealed.totals.page_views) == (2, 2 + sealed_before)
    assert assert_same(resealed, reference.traffic_stats(**scope, interval=Interval.DAY)) == 1


def test_the_api_and_the_page_say_when_visitors_are_estimated(admin_api, admin_client, tenant):
    project = tenant.project
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:00")], anon_id="a")
    ingest_events(project, "s2", [("page_view", "/", "2025-03-10 11:00")], anon_id="b")
    services.seal_due_days(now=LATER)
    whole_day = "from=2025-03-10T00:00:00Z&to=2025-03-11T00:00:00Z"
    body = admin_api.get(f"/v1/projects/{project.id}/stats?{whole_day}").json()
    assert (body["totals"]["visitors"], body["totals"]["visitorsEstimated"]) == (2, True)
    assert body["totals"]["visitorsStandardError"] == pytest.approx(0.0020, abs=0.0001)
    assert (body["previousTotals"]["visitorsEstimated"], body["previousTotals"]["visitorsStandardError"]) == (
        False,
        None,
    )
    partial = admin_api.get(f"/v1/projects/{project.id}/stats?from=2025-03-10T01:00:00Z&to=2025-03-11").json()
    assert (partial["totals"]["visitorsEstimated"], partial["totals"]["visitorsStandardError"]) == (False, None)
    page = admin_client.get(f"/admin/projects/project/{project.id}/insights/?range=custom&{whole_day}")
    shown = " ".join(re.sub(r"<[^>]+>", " ", page.content.decode()).split())
    assert "≈ 2 Unique visitors estimate, standard error 0.20%" in shown
    exact = admin_client.get(
        f"/admin/projects/project/{project.id}/insights/?range=custom&from=2025-03-10T01:00:00Z&to=2025-03-11"
    )
    assert "≈" not in exact.content.decode()
