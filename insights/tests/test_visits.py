"""Entry and exit pages and visit durations, against hand-counted traffic sent through the
ingest service (so the rollups are written as in production).

On 2025-03-10 (UTC), `tenant`:

  s1  Firefox  page_view /a 10:50, page_view /b 11:10, signup /b 11:20       (crosses an hour)
  s2  Chrome   page_view /a 12:00:30                                          (one event)
  s3  Chrome   batch 1: page_view /c 13:40, page_view /d 13:45;
               batch 2, sent later: page_view /b 13:05, cta_click /d 14:20   (out of order)
  s4  Chrome   video_play 12:10, video_play 12:13                            (no page view)

and `other_tenant`'s session over the same hours, which must never be counted.
"""

import re

import pytest

from ingest import services
from ingest.models import SessionHour
from ingest.tests.factories import at, ingest_events
from insights import selectors
from insights.selectors import RankedValue, VisitDuration
from insights.tests import reference
from insights.time_ranges import Interval, TimeRange

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)


@pytest.fixture
def visits(tenant, other_tenant):
    project = tenant.project
    ingest_events(
        project,
        "s1",
        [
            ("page_view", "/a", "2025-03-10 10:50"),
            ("page_view", "/b", "2025-03-10 11:10"),
            ("signup", "/b", "2025-03-10 11:20"),
        ],
        user_agent=FIREFOX,
    )
    ingest_events(project, "s2", [("page_view", "/a", "2025-03-10 12:00:30")], user_agent=CHROME)
    ingest_events(
        project,
        "s3",
        [("page_view", "/c", "2025-03-10 13:40"), ("page_view", "/d", "2025-03-10 13:45")],
        user_agent=CHROME,
    )
    ingest_events(
        project,
        "s3",
        [("page_view", "/b", "2025-03-10 13:05"), ("cta_click", "/d", "2025-03-10 14:20")],
        user_agent=CHROME,
    )
    ingest_events(
        project,
        "s4",
        [("video_play", "/v", "2025-03-10 12:10"), ("video_play", "/v", "2025-03-10 12:13")],
        user_agent=CHROME,
    )
    ingest_events(
        other_tenant.project,
        "s1",
        [("page_view", "/secret", "2025-03-10 09:00"), ("page_view", "/leak", "2025-03-10 14:59")],
        user_agent=FIREFOX,
    )
    return tenant


def pages(project, start: str, end: str, **filters: str) -> selectors.SessionPages:
    return selectors.session_pages_and_durations(
        project_id=project.id, time_range=TimeRange(start=at(start), end=at(end)), filters=filters
    )


def ranked(rows: list[RankedValue]) -> list[tuple[str, int]]:
    return [(row.value, row.count) for row in rows]


def same_as_the_raw_events(project, start: str, end: str, **filters: str) -> bool:
    scope = {
        "project_id": project.id,
        "time_range": TimeRange(start=at(start), end=at(end)),
        "interval": Interval.HOUR,
        "filters": filters,
    }
    return selectors.traffic_stats(**scope) == reference.traffic_stats(**scope)


def test_whole_hours_give_each_sessions_first_and_last_page_and_its_length(visits):
    found = pages(visits.project, "2025-03-10 10:00", "2025-03-10 15:00")
    assert ranked(found.entry_pages) == [("/a", 2), ("/b", 1)]
    # s3's last page view is /d at 13:45; its click at 14:20 ends the visit but is no page.
    assert ranked(found.exit_pages) == [("/a", 1), ("/b", 1), ("/d", 1)]
    # s1 30 min, s2 0 (one event), s3 13:05 to 14:20 = 75 min, s4 3 min: 0, 180, 1800, 4500 s.
    assert found.visit_duration == VisitDuration(
        sessions=4, single_event_sessions=1, median_seconds=990.0, mean_seconds=1620.0
    )
    assert same_as_the_raw_events(visits.project, "2025-03-10 10:00", "2025-03-10 15:00")


def test_only_the_range_counts_and_its_edges_come_from_raw_events(visits):
    # 10:45-11:00 and 12:00-12:30 are partial hours; 11:00-12:00 is a whole one. s1 enters at
    # /a at 10:50 (raw) and leaves at /b (rollup): 30 min. s2 0 s, s4 3 min; s3 is outside.
    found = pages(visits.project, "2025-03-10 10:45", "2025-03-10 12:30")
    assert ranked(found.entry_pages) == [("/a", 2)]
    assert ranked(found.exit_pages) == [("/a", 1), ("/b", 1)]
    assert found.visit_duration == VisitDuration(
        sessions=3, single_event_sessions=1, median_seconds=180.0, mean_seconds=660.0
    )
    # From 11:00, s1 is /b to /b for 10 min; to 13:30, s3 is its /b at 13:05 alone: 0 s.
    later = pages(visits.project, "2025-03-10 11:00", "2025-03-10 13:30")
    assert ranked(later.entry_pages) == [("/b", 2), ("/a", 1)]
    assert ranked(later.exit_pages) == [("/b", 2), ("/a", 1)]
    assert later.visit_duration == VisitDuration(
        sessions=4, single_event_sessions=2, median_seconds=90.0, mean_seconds=(600 + 0 + 180 + 0) / 4
    )
    for start, end in [("2025-03-10 10:45", "2025-03-10 12:30"), ("2025-03-10 11:00", "2025-03-10 13:30")]:
        assert same_as_the_raw_events(visits.project, start, end)


def test_filters_restrict_the_sessions(visits):
    found = pages(visits.project, "2025-03-10 10:00", "2025-03-10 15:00", browser="Chrome")
    assert ranked(found.entry_pages) == [("/a", 1), ("/b", 1)]
    assert ranked(found.exit_pages) == [("/a", 1), ("/d", 1)]
    assert found.visit_duration == VisitDuration(
        sessions=3, single_event_sessions=1, median_seconds=180.0, mean_seconds=1560.0
    )
    firefox = pages(visits.project, "2025-03-10 10:45", "2025-03-10 11:15", browser="Firefox")
    assert (ranked(firefox.entry_pages), ranked(firefox.exit_pages)) == ([("/a", 1)], [("/b", 1)])
    assert firefox.visit_duration.median_seconds == 1200.0
    nobody = pages(visits.project, "2025-03-10 10:00", "2025-03-10 15:00", browser="Lynx")
    assert (nobody.entry_pages, nobody.exit_pages) == ([], [])
    assert nobody.visit_duration == VisitDuration(
        sessions=0, single_event_sessions=0, median_seconds=None, mean_seconds=None
    )
    assert same_as_the_raw_events(visits.project, "2025-03-10 10:00", "2025-03-10 15:00", browser="Chrome")
    assert same_as_the_raw_events(visits.project, "2025-03-10 10:45", "2025-03-10 11:15", browser="Firefox")


def test_another_projects_sessions_are_never_counted(visits, other_tenant):
    found = pages(other_tenant.project, "2025-03-10 00:00", "2025-03-11 00:00")
    assert (ranked(found.entry_pages), ranked(found.exit_pages)) == ([("/secret", 1)], [("/leak", 1)])
    assert found.visit_duration.median_seconds == 21540.0  # 09:00 to 14:59
    assert "/secret" not in {
        row.value for row in pages(visits.project, "2025-03-10 00:00", "2025-03-11 00:00").entry_pages
    }


def test_page_views_at_the_same_instant_are_ordered_by_path_in_rollups_and_edges(tenant):
    # Sent in opposite orders; the entry is the path that sorts first, the exit the last.
    project = tenant.project
    ingest_events(project, "t1", [("page_view", "/y", "2025-03-10 10:30")])
    ingest_events(project, "t1", [("page_view", "/x", "2025-03-10 10:30")])
    ingest_events(project, "t2", [("page_view", "/x", "2025-03-10 10:30"), ("page_view", "/y", "2025-03-10 10:30")])
    for start, end in [("2025-03-10 10:00", "2025-03-10 11:00"), ("2025-03-10 10:15", "2025-03-10 10:45")]:
        found = pages(project, start, end)
        assert (ranked(found.entry_pages), ranked(found.exit_pages)) == ([("/x", 2)], [("/y", 2)])
        # Two events each, at one instant: 0 s, but not single-event sessions.
        assert found.visit_duration == VisitDuration(
            sessions=2, single_event_sessions=0, median_seconds=0.0, mean_seconds=0.0
        )
        assert same_as_the_raw_events(project, start, end)


def test_microseconds_are_kept(tenant):
    ingest_events(
        tenant.project,
        "s1",
        [("page_view", "/", "2025-03-10 10:00:00.125"), ("page_view", "/", "2025-03-10 10:00:02.750")],
    )
    found = pages(tenant.project, "2025-03-10 10:00", "2025-03-10 11:00")
    assert found.visit_duration.median_seconds == found.visit_duration.mean_seconds == 2.625


def test_sessions_with_rows_from_before_the_times_are_left_out_until_rebuilt(visits):
    # s1's rows as migration 0010 found them: no times, no pages.
    SessionHour.objects.filter(session__session_id="s1", project=visits.project).update(
        first_at=None, last_at=None, first_view_at=None, entry_path=None, last_view_at=None, exit_path=None
    )
    found = pages(visits.project, "2025-03-10 10:00", "2025-03-10 15:00")
    assert ranked(found.entry_pages) == [("/a", 1), ("/b", 1)]
    assert found.visit_duration.sessions == 3
    services.rebuild_rollups(start=at("2025-03-10 10:00"), end=at("2025-03-10 12:00"))
    assert pages(visits.project, "2025-03-10 10:00", "2025-03-10 15:00").visit_duration.sessions == 4
    assert same_as_the_raw_events(visits.project, "2025-03-10 10:00", "2025-03-10 15:00")


def page_text(response) -> str:
    assert response.status_code == 200
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_the_dashboard_shows_entry_and_exit_pages_and_visit_lengths(admin_client, visits):
    url = f"/admin/projects/project/{visits.project.id}/insights/?range=custom&from=2025-03-10&to=2025-03-10"
    page = page_text(admin_client.get(url))
    assert "16 min 30 s Median visit" in page and "27 min 00 s Mean visit" in page
    assert "over 4 sessions; the 1 with a single event count as 0 s" in page
    assert "Entry pages CSV Entry pages Sessions /a 2 /b 1" in page
    assert "Exit pages CSV Exit pages Sessions /a 1 /b 1 /d 1" in page
    assert "/secret" not in page
    chrome = page_text(admin_client.get(f"{url}&browser=Chrome"))
    assert "3 min 00 s Median visit" in chrome and "26 min 00 s Mean visit" in chrome
    assert "Exit pages CSV Exit pages Sessions /a 1 /d 1" in chrome
