"""The dashboard's hourly rollups: written by the ingest statement, compacted and rebuilt.
That the numbers read from them are those of the raw events is insights' to test
(insights/tests/test_rollups.py)."""

import itertools
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from ingest import services
from ingest.models import SESSION_DIMENSIONS, HourlyCount, HourlyCountDelta, SealedDay, SessionHour
from ingest.tests.factories import LATE_RECEIPT, at, ingest_events, ms

pytestmark = pytest.mark.django_db


FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)
# What a session-hour row holds of its events' times and pages.
PAGES_AND_TIMES = ("first_at", "last_at", "first_view_at", "entry_path", "last_view_at", "exit_path")


def session_hours(project, *columns: str) -> set[tuple]:
    return set(
        SessionHour.objects.filter(project=project).values_list("hour", "session_id", "events", "page_views", *columns)
    )


def test_it_counts_a_late_event_in_its_hour(tenant):
    project = tenant.project
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:30"), ("signup", "/", "2025-03-12 11:59")])
    ingest_events(project, "s1", [("page_view", "/pricing", "2025-03-10 10:45")])
    [(hour_a, _, events_a, views_a), (hour_b, _, events_b, views_b)] = sorted(session_hours(project))
    assert (hour_a, events_a, views_a) == (at("2025-03-10 10:00"), 2, 2)
    assert (hour_b, events_b, views_b) == (at("2025-03-12 11:00"), 1, 0)
    counts = HourlyCountDelta.objects.filter(
        project=project, hour=at("2025-03-10 10:00"), dimension="path", by_dimensions=True
    )
    assert sorted(counts.values_list("value", "count")) == [("/", 1), ("/pricing", 1)]


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
    ingest_events(project, "s1", [])  # a first batch with movement only: no hour yet
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:30")])
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:40")])
    ingest_events(project, "s2", [("page_view", "/", "2025-03-10 10:30")])
    assert spans(project) == {"s1": [False], "s2": [False]}
    ingest_events(project, "s1", [("page_view", "/docs", "2025-03-10 09:59")])  # late, an hour before
    ingest_events(project, "s2", [("page_view", "/", "2025-03-10 10:50"), ("signup", "/", "2025-03-10 11:05")])
    assert spans(project) == {"s1": [True, True], "s2": [True, True]}


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))), ids=lambda order: "".join(map(str, order)))
def test_an_hours_first_and_last_page_do_not_depend_on_the_order_batches_arrive_in(tenant, order):
    # Two page views at 10:30 exactly: the entry is the path that sorts first, the exit the one
    # that sorts last; the click at 10:55 is the hour's last event but no page view.
    batches = [
        [("page_view", "/y", "2025-03-10 10:30")],
        [("page_view", "/x", "2025-03-10 10:30"), ("page_view", "/m", "2025-03-10 10:40")],
        [("cta_click", "/m", "2025-03-10 10:55")],
        [("scroll_end", "/x", "2025-03-10 10:10"), ("page_view", "/z", "2025-03-10 11:05")],
    ]
    for index in order:
        ingest_events(tenant.project, "s1", batches[index])
    rows = SessionHour.objects.filter(project=tenant.project).order_by("hour")
    assert list(rows.values_list("hour", "events", *PAGES_AND_TIMES)) == [
        (
            at("2025-03-10 10:00"),
            5,
            at("2025-03-10 10:10"),
            at("2025-03-10 10:55"),
            at("2025-03-10 10:30"),
            "/x",
            at("2025-03-10 10:40"),
            "/m",
        ),
        (
            at("2025-03-10 11:00"),
            1,
            at("2025-03-10 11:05"),
            at("2025-03-10 11:05"),
            at("2025-03-10 11:05"),
            "/z",
            at("2025-03-10 11:05"),
            "/z",
        ),
    ]


def test_pages_at_the_same_instant_in_one_batch_are_ordered_by_path(tenant):
    ingest_events(
        tenant.project,
        "s1",
        [
            ("page_view", "/b", "2025-03-10 10:30"),
            ("page_view", "/a", "2025-03-10 10:30"),
            ("page_view", "/c", "2025-03-10 10:30"),
        ],
    )
    ingest_events(tenant.project, "s2", [("signup", "/", "2025-03-10 10:30")])
    rows = SessionHour.objects.filter(project=tenant.project).order_by("session__session_id")
    assert list(rows.values_list("session__session_id", "first_view_at", "entry_path", "exit_path")) == [
        ("s1", at("2025-03-10 10:30"), "/a", "/c"),
        ("s2", None, None, None),
    ]


def test_a_row_written_before_it_had_times_gets_none_until_rebuilt(tenant):
    project = tenant.project
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:30")])
    # As a row from before migration 0010 holds it.
    SessionHour.objects.update(**dict.fromkeys(PAGES_AND_TIMES))
    # A later batch would give the row the times of its own events only: it leaves it without.
    ingest_events(project, "s1", [("page_view", "/docs", "2025-03-10 10:40")])
    [row] = SessionHour.objects.filter(project=project)
    assert (row.events, row.first_at, row.last_at) == (2, None, at("2025-03-10 10:40"))
    services.rebuild_rollups(start=at("2025-03-10 10:00"), end=at("2025-03-10 11:00"))
    [row] = SessionHour.objects.filter(project=project)
    assert [getattr(row, column) for column in PAGES_AND_TIMES] == [
        at("2025-03-10 10:30"),
        at("2025-03-10 10:40"),
        at("2025-03-10 10:30"),
        "/",
        at("2025-03-10 10:40"),
        "/docs",
    ]


def test_a_retried_batch_adds_nothing_to_the_rollups(tenant):
    project = tenant.project
    payload = {
        "session": {"sessionId": "s1", "anonId": "a"},
        "events": [{"id": "e1", "type": "page_view", "path": "/", "ts": ms("2025-03-10 10:30")}],
        "movement": [],
    }
    for _ in range(2):
        services.ingest_batch(project_id=project.id, payload=payload, received_at=LATE_RECEIPT)
    assert session_hours(project) == {(at("2025-03-10 10:00"), SessionHour.objects.get().session_id, 1, 1)}
    # The type and the path, for the session's dimensions (compaction derives the rows over all sessions).
    assert sum(HourlyCountDelta.objects.values_list("count", flat=True)) == 2


def test_compaction_folds_the_batches_counts_into_one_row_each(tenant, other_tenant):
    project = tenant.project
    for n in range(3):
        ingest_events(project, f"s{n}", [("page_view", "/", "2025-03-10 10:30"), ("signup", "/", "2025-03-10 11:30")])
    ingest_events(other_tenant.project, "x", [("page_view", "/", "2025-03-10 10:30")])
    # A batch appends its counts per combination of the sessions' dimensions only (all alike
    # here); compaction writes each count twice: for those dimensions, and over all sessions.
    assert HourlyCountDelta.objects.count() == 3 * 3 + 2
    assert not HourlyCountDelta.objects.filter(by_dimensions=False).exists()
    assert services.compact_hourly_counts() == 2 * (3 + 2)
    assert not HourlyCountDelta.objects.exists()
    all_sessions = HourlyCount.objects.filter(project=project, by_dimensions=False)
    assert sorted(all_sessions.values_list("hour", "dimension", "value", "count")) == [
        (at("2025-03-10 10:00"), "path", "/", 3),
        (at("2025-03-10 10:00"), "type", "page_view", 3),
        (at("2025-03-10 11:00"), "type", "signup", 3),
    ]
    # Later batches of a compacted hour land in the deltas again and are folded in next time.
    ingest_events(project, "late", [("page_view", "/", "2025-03-10 10:50")])
    assert services.compact_hourly_counts() == 2 * 2
    assert HourlyCount.objects.get(project=project, dimension="path", by_dimensions=False).count == 4


def test_the_rollups_carry_the_sessions_dimensions(tenant):
    project = tenant.project
    landing = "https://site.example/?utm_source=news&utm_medium=email&utm_campaign=spring"
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:30")], user_agent=FIREFOX, landing_url=landing)
    ingest_events(project, "s1", [("signup", "/", "2025-03-10 11:30")], user_agent=CHROME)
    ingest_events(project, "s2", [("page_view", "/", "2025-03-10 10:40")], referrer="https://www.google.com/")
    mail = ("Firefox", "Linux", "desktop", None, "news", "Email", "spring")
    search = (None, None, None, None, "Google", "Organic Search", None)
    # A session's first batch names its dimensions; the second's User-Agent changes nothing.
    assert sorted(SessionHour.objects.values_list("session__session_id", "hour", *SESSION_DIMENSIONS)) == [
        ("s1", at("2025-03-10 10:00"), *mail),
        ("s1", at("2025-03-10 11:00"), *mail),
        ("s2", at("2025-03-10 10:00"), "Other", "Other", "desktop", None, "Google", "Organic Search", None),
    ]
    services.compact_hourly_counts()
    assert sorted(
        HourlyCount.objects.filter(dimension="path", by_dimensions=True).values_list(
            "hour", "value", "count", *SESSION_DIMENSIONS
        ),
        key=str,
    ) == sorted(
        [
            (at("2025-03-10 10:00"), "/", 1, *mail),
            (at("2025-03-10 10:00"), "/", 1, "Other", "Other", "desktop", *search[3:]),
        ],
        key=str,
    )
    over_all = HourlyCount.objects.filter(dimension="path", by_dimensions=False)
    assert list(over_all.values_list("hour", "value", "count", *SESSION_DIMENSIONS)) == [
        (at("2025-03-10 10:00"), "/", 2, *[None] * len(SESSION_DIMENSIONS))
    ]


def test_the_rebuild_from_raw_events_matches_what_ingest_wrote(tenant):
    project = tenant.project
    ingest_events(
        project,
        "s1",
        [("page_view", "/", "2025-03-10 23:50"), ("page_view", "/docs", "2025-03-11 00:10")],
        user_agent=FIREFOX,
    )
    ingest_events(project, "s2", [("cta_click", "/", "2025-03-11 00:20")], referrer="https://t.co/")
    written = session_hours(project, *SESSION_DIMENSIONS, *PAGES_AND_TIMES)
    marks = spans(project)
    services.compact_hourly_counts()
    counts = set(
        HourlyCount.objects.values_list("hour", "dimension", "value", "count", "by_dimensions", *SESSION_DIMENSIONS)
    )
    assert services.rebuild_rollups(start=at("2025-03-10 23:00"), end=at("2025-03-11 00:30")) == 2
    assert session_hours(project, *SESSION_DIMENSIONS, *PAGES_AND_TIMES) == written
    assert spans(project) == marks == {"s1": [True, True], "s2": [False]}
    assert (
        set(
            HourlyCount.objects.values_list("hour", "dimension", "value", "count", "by_dimensions", *SESSION_DIMENSIONS)
        )
        == counts
    )


def test_a_rebuild_leaves_the_sealed_days_it_touches_stale_and_the_command_seals_them_again(tenant, capsys):
    project = tenant.project
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 23:50"), ("page_view", "/docs", "2025-03-11 00:10")])
    ingest_events(project, "s2", [("page_view", "/", "2025-03-12 09:00")])
    assert len(services.seal_due_days(now=at("2025-04-01 00:00"))) == 3

    def stale() -> dict[str, bool]:
        return {day.isoformat(): marked for day, marked in SealedDay.objects.values_list("day", "stale")}

    services.rebuild_rollups(start=at("2025-03-10 23:00"), end=at("2025-03-11 00:30"))
    assert stale() == {"2025-03-10": True, "2025-03-11": True, "2025-03-12": False}
    call_command("rebuild_rollups")
    assert not any(stale().values())
    assert "Sealed 3 day(s) from 2025-03-10 to 2025-03-12: 1 sessions counted, 2 rows" in capsys.readouterr().out


def test_a_batch_reads_a_handful_of_rollup_rows_however_many_the_project_has(tenant):
    project = tenant.project
    ingest_events(project, "old", [("page_view", "/", "2025-03-01 09:00")])
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
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:30")])
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 11:30")])
    assert rollup_rows_read() - before <= 10


def test_compaction_drops_delta_rows_over_all_sessions_that_repeat_their_combinations(tenant):
    # Releases before the per-combination deltas appended each count twice; the copy over all
    # sessions is the sum of the others, which compaction writes itself.
    project = tenant.project
    ingest_events(project, "s1", [("page_view", "/", "2025-03-10 10:30")])
    HourlyCountDelta.objects.create(
        project=project, hour=at("2025-03-10 10:00"), dimension="path", value="/", count=1, by_dimensions=False
    )
    services.compact_hourly_counts()
    assert sorted(HourlyCount.objects.filter(dimension="path").values_list("value", "count", "by_dimensions")) == [
        ("/", 1, False),
        ("/", 1, True),
    ]
