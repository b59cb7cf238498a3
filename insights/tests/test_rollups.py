"""The stats read from the rollups are those of the raw events: whole hours from the rollups,
the partial hours at a range's edges from raw events, combined per session. The raw numbers
are counted in plain Python by insights/tests/reference.py."""

import random
from datetime import timedelta

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from ingest import services
from ingest.models import SESSION_DIMENSIONS, Session, SessionHour
from ingest.tests.factories import at, ingest_events, make_event, make_session
from insights import selectors
from insights.tests import reference
from insights.time_ranges import Interval, TimeRange

pytestmark = pytest.mark.django_db

PAGES = ["/", "/pricing", "/docs", "/blog/post-1", "/signup"]
TYPES = ["page_view", "page_view", "page_view", "cta_click", "signup"]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "",
]
REFERRERS = ["", "https://t.co/", "https://www.google.com/", "https://blog.example.org/post"]
LANDINGS = [
    None,
    "https://site.example/",
    "https://site.example/?utm_source=news&utm_medium=email&utm_campaign=spring",
    "https://site.example/?utm_campaign=brand&gclid=x",
]
# Client addresses of the test country database; the last one it does not place.
ADDRESSES = ["203.0.113.7", "198.51.100.7", "192.0.2.7"]
# Projects' zones the random ranges are read in: whole hours off UTC, New York changing its
# clocks on 2025-03-09 07:00 UTC (inside the traffic), half and three quarters of an hour off.
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu"]


@pytest.fixture
def countries(tmp_path, settings):
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "DE"}})
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "JP"}})
    path = tmp_path / "countries.mmdb"
    writer.to_db_file(str(path))
    settings.GEOIP_PATH = str(path)


def range_scope(project, start: str, end: str) -> dict:
    return {
        "project_id": project.id,
        "time_range": TimeRange(start=at(start), end=at(end)),
        "interval": Interval.HOUR,
        "limit": 50,
    }


def stats(project, start: str, end: str) -> selectors.TrafficStats:
    return selectors.traffic_stats(**range_scope(project, start, end))


def counted(project, start: str, end: str) -> selectors.TrafficStats:
    """The same numbers counted from the raw rows."""
    return reference.traffic_stats(**range_scope(project, start, end))


def test_a_late_event_counts_in_its_hour(tenant):
    project = tenant.project
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:30"), ("signup", "/", "2025-03-12 11:59")])
    ingest_events(project, "s1", [("page_view", "/pricing", "2025-03-10 10:45")])
    early = stats(project, "2025-03-10 10:00", "2025-03-10 11:00")
    assert (early.totals.page_views, early.totals.sessions, early.totals.bounced_sessions) == (2, 1, 0)
    assert [(row.value, row.count) for row in early.top_paths] == [("/", 1), ("/pricing", 1)]


def test_a_session_split_between_an_edge_and_whole_hours_is_one_session(tenant):
    project = tenant.project
    # One page view in the partial first hour (raw), one in a whole hour (rollup): one session
    # with two page views, so no bounce; s2's only page view is in the partial last hour.
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:30"), ("page_view", "/docs", "2025-03-10 11:10")])
    ingest_events(project, "s2", [("page_view", "/", "2025-03-10 12:20")], referrer="https://t.co/")
    ingest_events(project, "s3", [("page_view", "/", "2025-03-10 12:40")])
    found = stats(project, "2025-03-10 10:15", "2025-03-10 12:30")
    assert found.totals == selectors.Totals(
        page_views=3, events=3, sessions=2, visitors=1, sessions_with_page_view=2, bounced_sessions=1
    )
    assert [(row.value, row.count) for row in found.top_referrers] == [("", 1), ("https://t.co/", 1)]
    assert [(bucket.page_views, bucket.sessions) for bucket in found.series] == [(1, 1), (1, 1), (1, 1)]
    assert found == counted(project, "2025-03-10 10:15", "2025-03-10 12:30")


def test_a_session_keeps_the_dimensions_of_its_first_batch(tenant):
    project = tenant.project
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:30")], referrer="https://first.example/")
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 14:30")], referrer="https://second.example/")
    found = stats(project, "2025-03-10 00:00", "2025-03-11 00:00")
    assert [(row.value, row.count) for row in found.top_referrers] == [("https://first.example/", 1)]


def test_a_session_over_several_hours_counts_once_with_all_its_page_views(tenant):
    project = tenant.project
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:30")])
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:40")])
    ingest_events(project, "s2", [("page_view", "/", "2025-03-10 10:30")])
    ingest_events(project, "s1", [("page_view", "/docs", "2025-03-10 09:59")])  # late, an hour before
    ingest_events(project, "s2", [("page_view", "/", "2025-03-10 10:50"), ("signup", "/", "2025-03-10 11:05")])
    found = stats(project, "2025-03-10 00:00", "2025-03-11 00:00")
    assert (found.totals.sessions, found.totals.page_views, found.totals.bounced_sessions) == (2, 5, 0)
    assert found == counted(project, "2025-03-10 00:00", "2025-03-11 00:00")


def test_compaction_changes_no_number(tenant, other_tenant):
    project = tenant.project
    for n in range(3):
        ingest_events(project, f"s{n}", [("page_view", "/", "2025-03-10 10:30"), ("signup", "/", "2025-03-10 11:30")])
    ingest_events(other_tenant.project, "x", [("page_view", "/", "2025-03-10 10:30")])
    before = stats(project, "2025-03-10 00:00", "2025-03-11 00:00")
    assert before == counted(project, "2025-03-10 00:00", "2025-03-11 00:00")
    assert services.compact_hourly_counts() == 2 * (3 + 2)  # over all sessions, and per dimensions
    assert stats(project, "2025-03-10 00:00", "2025-03-11 00:00") == before
    # Later batches of a compacted hour are read from the deltas, next to the compacted count.
    ingest_events(project, "late", [("page_view", "/", "2025-03-10 10:50")])
    after = stats(project, "2025-03-10 00:00", "2025-03-11 00:00")
    assert after.top_paths[0].count == 4
    assert after == counted(project, "2025-03-10 00:00", "2025-03-11 00:00")


def random_filters(rng: random.Random, sessions: list[dict]) -> dict[str, str]:
    """One or two dimensions' values of a random session (null ones cannot be asked for), or
    now and then a value no session has."""
    if rng.random() < 0.1:
        return {"browser": "Lynx"}
    session = rng.choice([session for session in sessions if session["browser"] is not None])
    columns = rng.sample([column for column in SESSION_DIMENSIONS if session[column] is not None], k=2)
    return {column: session[column] for column in columns[: rng.randint(1, 2)]}


def test_the_rollups_give_the_numbers_of_the_raw_events(tenant, other_tenant, countries):
    """Random enriched traffic over three days, all of it late, some sent twice, some stored
    before enrichment; random ranges, aligned or not, in several time zones, unfiltered and
    filtered; before and after compaction."""
    rng = random.Random(8)
    origin = at("2025-03-09 00:00")
    for n in range(60):
        project = tenant.project if n % 6 else other_tenant.project
        first = origin + timedelta(seconds=rng.randrange(3 * 86400))
        visitor = {
            "referrer": rng.choice(REFERRERS),
            "anon_id": f"a{n % 17}",
            "user_agent": rng.choice(USER_AGENTS),
            "landing_url": rng.choice(LANDINGS),
            "client_address": rng.choice(ADDRESSES),
        }
        for _batch in range(rng.randint(1, 3)):
            events = []
            for _event in range(rng.randint(0, 6)):
                moment = first + timedelta(seconds=rng.randrange(3 * 3600))
                events.append((rng.choice(TYPES), rng.choice(PAGES), moment.isoformat(sep=" ")[:26]))
            ingest_events(project, f"visit{n}", events, **visitor)
    for n in range(4):  # stored before sessions were enriched: every dimension null
        old = make_session(tenant.project, anon_id=f"old{n}")
        moment = origin + timedelta(seconds=rng.randrange(3 * 86400))
        make_event(old, moment.isoformat(sep=" ")[:19], path=rng.choice(PAGES))
    sessions = list(Session.objects.filter(project=tenant.project).values(*SESSION_DIMENSIONS))
    assert {session["country"] for session in sessions} == {"DE", "JP", None}
    assert {session["browser"] for session in sessions} == {"Chrome", "Firefox", "Safari", "Other", None}
    # The reads rely on it: every session with more than one rollup row has all of them marked.
    marks: dict[int, list[bool]] = {}
    for session_id, marked in SessionHour.objects.filter(project=tenant.project).values_list(
        "session_id", "spans_hours"
    ):
        marks.setdefault(session_id, []).append(marked)
    assert all(len(found) == 1 or all(found) for found in marks.values())
    matched = 0
    for round_ in range(2):
        for _range in range(25):
            start = origin + timedelta(seconds=rng.randrange(3 * 86400), microseconds=rng.randrange(10**6))
            if rng.random() < 0.3:
                start = start.replace(minute=0, second=0, microsecond=0)
            end = start + timedelta(seconds=rng.randrange(1, 2 * 86400))
            for interval in Interval:
                scope = {
                    "project_id": tenant.project.id,
                    "time_range": TimeRange(start=start, end=end, time_zone=ZONES[_range % len(ZONES)]),
                    "interval": interval,
                    "limit": 50,
                }
                raw = reference.traffic_stats(**scope)
                assert selectors.traffic_stats(**scope) == raw, (round_, start, end, interval)
                short = {**scope, "limit": 3}
                assert selectors.traffic_stats(**short) == reference.traffic_stats(**short), (round_, start, end)
                filtered = {**scope, "filters": random_filters(rng, sessions)}
                found = selectors.traffic_stats(**filtered)
                assert found == reference.traffic_stats(**filtered), filtered
                matched += found.totals.sessions > 0
        services.compact_hourly_counts()
    assert matched > 40  # most filtered ranges have sessions: the comparisons are not of zeros
