"""Each total against the previous period of the same length, in GET /v1/projects/<id>/stats
and on the dashboard (hand-counted traffic in the week of 2025-03-08 and the week before)."""

from datetime import timedelta

import pytest

from ingest.tests.factories import at, make_event, make_session
from insights.charts import series_chart
from insights.selectors import Bucket, Totals, TotalsChange, relative_change
from insights.time_ranges import Interval

pytestmark = pytest.mark.django_db

WEEK = "from=2025-03-08&to=2025-03-14"  # [03-08, 03-15); the previous period is [03-01, 03-08)


@pytest.fixture
def two_weeks(tenant, other_tenant):
    project = tenant.project
    # The previous week: a session of two page views (Chrome) and a bouncing one (Firefox).
    p1 = make_session(project, anon_id="a", browser="Chrome")
    make_event(p1, "2025-03-02 10:00", path="/")
    make_event(p1, "2025-03-02 10:05", path="/pricing")
    p2 = make_session(project, anon_id="b", browser="Firefox")
    make_event(p2, "2025-03-03 09:00", path="/")
    # This week: three page views and a click (Chrome), two bouncing sessions (Firefox).
    c1 = make_session(project, anon_id="a", browser="Chrome")
    for minute in ("00", "01", "02"):
        make_event(c1, f"2025-03-10 10:{minute}", path="/")
    make_event(c1, "2025-03-10 10:03", type="click", path="/")
    for day, anon in (("11", "c"), ("12", "d")):
        make_event(make_session(project, anon_id=anon, browser="Firefox"), f"2025-03-{day} 12:00", path="/")
    # Another project's previous week must not count.
    stranger = make_session(other_tenant.project, anon_id="z", browser="Chrome")
    for _ in range(4):
        make_event(stranger, "2025-03-05 08:00", path="/secret")
    return tenant


def stats(admin_api, project, query: str) -> dict:
    response = admin_api.get(f"/v1/projects/{project.id}/stats?{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_every_total_has_its_previous_value_and_relative_change(admin_api, two_weeks):
    body = stats(admin_api, two_weeks.project, WEEK)
    assert (body["previousFrom"], body["previousTo"]) == ("2025-03-01T00:00:00Z", "2025-03-08T00:00:00Z")
    assert body["totals"] == {
        "pageViews": 5,
        "events": 6,
        "sessions": 3,
        "visitors": 3,
        "visitorsEstimated": False,
        "visitorsStandardError": None,
        "eventsPerSession": 2.0,
        "sessionsWithPageView": 3,
        "bouncedSessions": 2,
        "bounceRate": pytest.approx(2 / 3),
    }
    assert body["previousTotals"] == {
        "pageViews": 3,
        "events": 3,
        "sessions": 2,
        "visitors": 2,
        "visitorsEstimated": False,
        "visitorsStandardError": None,
        "eventsPerSession": 1.5,
        "sessionsWithPageView": 2,
        "bouncedSessions": 1,
        "bounceRate": 0.5,
    }
    assert body["change"] == {
        "pageViews": pytest.approx(2 / 3),  # (5 - 3) / 3
        "events": 1.0,  # (6 - 3) / 3
        "sessions": 0.5,
        "visitors": 0.5,
        "eventsPerSession": pytest.approx(1 / 3),  # (2.0 - 1.5) / 1.5
        "sessionsWithPageView": 0.5,
        "bouncedSessions": 1.0,
        "bounceRate": pytest.approx(1 / 3),  # (2/3 - 1/2) / (1/2)
    }


def test_the_previous_period_keeps_the_filters(admin_api, two_weeks):
    body = stats(admin_api, two_weeks.project, f"{WEEK}&browser=Chrome")
    assert (body["previousTotals"]["pageViews"], body["previousTotals"]["sessions"]) == (2, 1)
    assert (body["totals"]["pageViews"], body["totals"]["sessions"]) == (3, 1)
    assert body["change"]["pageViews"] == 0.5
    assert body["change"]["sessions"] == 0.0
    # Neither period has a bouncing Chrome session: 0 -> 0 is no number, not NaN.
    assert body["change"]["bouncedSessions"] is None
    assert body["change"]["bounceRate"] is None


def test_a_change_from_nothing_is_null(admin_api, two_weeks):
    # The week before 2025-03-01 is empty: every change is undefined.
    body = stats(admin_api, two_weeks.project, "from=2025-03-01&to=2025-03-07")
    assert body["totals"]["pageViews"] == 3
    assert body["previousTotals"]["pageViews"] == 0
    assert body["previousTotals"]["eventsPerSession"] is None
    assert set(body["change"].values()) == {None}


def test_the_earliest_range_compares_with_a_clamped_empty_period(admin_api, tenant):
    body = stats(admin_api, tenant.project, "from=0001-01-02&to=0001-01-03")
    assert (body["previousFrom"], body["previousTo"]) == ("0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z")
    assert set(body["change"].values()) == {None}


def test_relative_change_is_none_where_it_is_not_a_number():
    assert relative_change(3, 2) == 0.5
    assert relative_change(0, 4) == -1.0
    assert relative_change(5, 0) is None
    assert relative_change(None, 2) is None
    assert relative_change(2, None) is None
    empty = Totals(page_views=0, events=0, sessions=0, visitors=0, sessions_with_page_view=0, bounced_sessions=0)
    assert set(vars(TotalsChange.between(empty, empty)).values()) == {None}


def test_the_dashboard_shows_each_change_and_the_previous_value(admin_client, two_weeks):
    url = f"/admin/projects/project/{two_weeks.project.id}/insights/?range=custom&{WEEK}"
    html = admin_client.get(url).content.decode()
    previous = "Previous period (2025-03-01 00:00 to 2025-03-08 00:00 UTC)"
    assert f'title="{previous}: 3"' in html  # page views
    assert f'title="{previous}: 1.50"' in html  # events per session
    assert f'title="{previous}: 50 %"' in html  # bounce rate
    for trend in ("▲ 67 %", "▲ 100 %", "▲ 50 %", "▲ 33 %"):
        assert f'<div class="trend">{trend}</div>' in html, trend
    # Without the comparison, the chart draws no previous line; the toggle link adds it.
    assert 'class="previous"' not in html
    assert f'href="?range=custom&amp;{WEEK.replace("&", "&amp;")}&amp;compare=previous"' in html


def test_the_chart_overlays_the_previous_period_bucket_by_bucket(admin_client, two_weeks):
    url = f"/admin/projects/project/{two_weeks.project.id}/insights/?range=custom&{WEEK}&compare=previous"
    html = admin_client.get(url).content.decode()
    assert '<polyline class="previous"' in html
    assert "Hide the previous period" in html
    # Sunday 9 March sits where Sunday 2 March (2 page views) was.
    assert "Sun 09 Mar UTC: 0 page views, 0 sessions (previous period, Sun 02 Mar: 2 page views)" in html


def test_the_previous_line_is_aligned_by_place_and_scales_the_axis():
    day = Interval.DAY
    days = [at("2025-03-08 00:00") + timedelta(days=n) for n in range(4)]
    current = [Bucket(start=start, page_views=1, sessions=1) for start in days[:3]]
    previous = [
        Bucket(start=start - timedelta(days=4), page_views=views, sessions=0)
        for start, views in zip(days, [8, 0, 4, 9], strict=True)
    ]
    chart = series_chart(current, day, time_zone="UTC", previous=previous)
    # Only as many previous buckets as this period has; the highest of them sets the axis (8).
    xs_ys = [point.split(",") for point in chart.previous_points.split()]
    assert len(xs_ys) == 3
    assert chart.y_ticks[-1].label == "8"
    assert float(xs_ys[0][1]) == chart.y_ticks[-1].position
    assert series_chart(current, day, time_zone="UTC").previous_points == ""


def test_the_visit_durations_have_their_previous_values_and_change(admin_api, two_weeks):
    body = stats(admin_api, two_weeks.project, WEEK)
    # This week: 3 minutes, and two one-event sessions at 0 s. The week before: 5 minutes and 0 s.
    assert (body["visitDuration"]["medianSeconds"], body["visitDuration"]["meanSeconds"]) == (0.0, 60.0)
    assert body["previousVisitDuration"] == {
        "sessions": 2,
        "singleEventSessions": 1,
        "medianSeconds": 150.0,
        "meanSeconds": 150.0,
    }
    assert body["visitDurationChange"] == {"medianSeconds": -1.0, "meanSeconds": pytest.approx(-0.6)}
    # With no sessions before, there is nothing to compare with.
    empty_before = stats(admin_api, two_weeks.project, "from=2025-03-01&to=2025-03-07")
    assert empty_before["previousVisitDuration"]["medianSeconds"] is None
    assert empty_before["visitDurationChange"] == {"medianSeconds": None, "meanSeconds": None}


def test_the_dashboard_shows_the_visit_durations_change(admin_client, two_weeks):
    page = admin_client.get(
        f"/admin/projects/project/{two_weeks.project.id}/insights/?range=custom&from=2025-03-08&to=2025-03-14"
    ).content.decode()
    assert "Previous period (2025-03-01 00:00 to 2025-03-08 00:00 UTC): 150.0 s" in page
    assert "▼ 100 %" in page and "▼ 60 %" in page
