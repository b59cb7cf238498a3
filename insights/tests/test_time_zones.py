"""Ranges, day buckets and "Today" in the project's time zone, across changes of the clocks.

Europe/Berlin goes from UTC+1 to UTC+2 at 2026-03-29 01:00 UTC (its 29 March has 23 hours)
and back at 2026-10-25 01:00 UTC (its 25 October has 25 hours). Asia/Kolkata is UTC+5:30 all
year: its days begin at 18:30 UTC, in the middle of a UTC hour that the rollups count whole.
Every expected number below is counted by hand from the events each test places.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.errors import ApiError
from ingest.tests.factories import at, make_event, make_session
from insights import selectors
from insights.tests import reference
from insights.time_ranges import (
    Interval,
    TimeRange,
    bucket_starts,
    hours_across_days,
    parse_range,
    today_end,
)
from projects import services

pytestmark = pytest.mark.django_db

BERLIN = "Europe/Berlin"
KOLKATA = "Asia/Kolkata"


def in_zone(tenant, time_zone: str):
    project = tenant.project
    project.time_zone = time_zone
    project.save(update_fields=["time_zone"])
    return project


def test_a_date_range_is_local_midnight_to_local_midnight_with_23_and_25_hour_days():
    now = at("2026-12-01 12:00")
    spring = parse_range("2026-03-29", "2026-03-29", now=now, time_zone=BERLIN)
    assert spring == TimeRange(start=at("2026-03-28 23:00"), end=at("2026-03-29 22:00"), time_zone=BERLIN)
    assert spring.duration == timedelta(hours=23)
    autumn = parse_range("2026-10-25", "2026-10-25", now=now, time_zone=BERLIN)
    assert (autumn.start, autumn.end) == (at("2026-10-24 22:00"), at("2026-10-25 23:00"))
    assert autumn.duration == timedelta(hours=25)
    # A datetime without an offset is local time; with one, the instant it names.
    assert parse_range("2026-03-29T12:00", "2026-03-30", now=now, time_zone=BERLIN).start == at("2026-03-29 10:00")
    assert parse_range("2026-03-29T12:00Z", "2026-03-30", now=now, time_zone=BERLIN).start == at("2026-03-29 12:00")
    assert parse_range("2026-03-10", "2026-03-10", now=now, time_zone=KOLKATA) == TimeRange(
        start=at("2026-03-09 18:30"), end=at("2026-03-10 18:30"), time_zone=KOLKATA
    )


def test_today_is_the_local_day_of_now():
    # 22:30 UTC on 29 March is 00:30 on the 30th in Berlin: its today has begun, UTC's has not.
    now = at("2026-03-29 22:30")
    assert today_end(now, BERLIN) == at("2026-03-30 22:00")
    assert today_end(now, "UTC") == at("2026-03-30 00:00")
    # 04:30 UTC on 8 March is still the 7th in New York (UTC-5 until 07:00 UTC that day).
    assert today_end(at("2026-03-08 04:30"), "America/New_York") == at("2026-03-08 05:00")
    # The default range: seven local days, today included; one of them has 23 hours.
    default = parse_range(None, None, now=now, time_zone=BERLIN)
    assert (default.start, default.end) == (at("2026-03-23 23:00"), at("2026-03-30 22:00"))
    assert default.duration == timedelta(days=7, hours=-1)


def test_the_previous_period_is_the_same_number_of_local_days():
    day = parse_range("2026-03-29", "2026-03-29", now=at("2026-12-01 12:00"), time_zone=BERLIN)
    # 28 March is a day of 24 hours: not the 23 hours just before.
    assert day.previous == TimeRange(start=at("2026-03-27 23:00"), end=at("2026-03-28 23:00"), time_zone=BERLIN)
    week = parse_range("2026-10-26", "2026-11-01", now=at("2026-12-01 12:00"), time_zone=BERLIN)
    assert (week.previous.start, week.previous.end) == (at("2026-10-18 22:00"), at("2026-10-25 23:00"))


def test_day_buckets_start_at_local_midnights():
    time_range = TimeRange(start=at("2026-03-28 12:00"), end=at("2026-03-30 01:00"), time_zone=BERLIN)
    assert bucket_starts(time_range, Interval.DAY) == [
        at("2026-03-27 23:00"),
        at("2026-03-28 23:00"),
        at("2026-03-29 22:00"),
    ]
    # Hours stay UTC hours: 23 of them on the short day.
    short_day = TimeRange(start=at("2026-03-28 23:00"), end=at("2026-03-29 22:00"), time_zone=BERLIN)
    assert len(bucket_starts(short_day, Interval.HOUR)) == 23


def test_a_range_of_31_local_days_may_hold_745_hours():
    now = at("2026-12-01 12:00")
    october = parse_range("2026-10-01", "2026-10-31", now=now, interval=Interval.HOUR, time_zone=BERLIN)
    assert len(bucket_starts(october, Interval.HOUR)) == 31 * 24 + 1
    with pytest.raises(ApiError) as refused:
        parse_range("2026-10-01", "2026-11-01", now=now, interval=Interval.HOUR, time_zone=BERLIN)
    assert refused.value.code == "range_too_large"


def test_only_the_hours_a_local_day_begins_in_are_split():
    three_days = TimeRange(start=at("2026-03-08 18:30"), end=at("2026-03-11 18:30"), time_zone=KOLKATA)
    assert hours_across_days(three_days) == [at("2026-03-09 18:00"), at("2026-03-10 18:00")]
    # Whole-hour zones, even across a change of the clocks, split none.
    assert (
        hours_across_days(TimeRange(start=at("2026-03-27 23:00"), end=at("2026-03-30 22:00"), time_zone=BERLIN)) == []
    )


@pytest.fixture
def spring_traffic(tenant, other_tenant):
    """Berlin, around 29 March 2026 (local times in brackets)."""
    project = in_zone(tenant, BERLIN)
    s1 = make_session(project, anon_id="A")
    make_event(s1, "2026-03-27 22:59:59")  # (27th 23:59:59) before the range
    make_event(s1, "2026-03-27 23:00")  # (28th 00:00) the range's first instant, a UTC 27th
    s2 = make_session(project, anon_id="B")
    make_event(s2, "2026-03-28 22:30")  # (28th 23:30)
    make_event(s2, "2026-03-28 23:10")  # (29th 00:10)
    s3 = make_session(project, anon_id="C")
    make_event(s3, "2026-03-29 00:30")  # (29th 01:30 CET)
    make_event(s3, "2026-03-29 01:30")  # (29th 03:30 CEST)
    make_event(s3, "2026-03-29 21:59", type="signup")  # (29th 23:59)
    s4 = make_session(project, anon_id="D")
    make_event(s4, "2026-03-29 22:00")  # (30th 00:00) a UTC 29th
    s5 = make_session(project, anon_id="E")
    make_event(s5, "2026-03-30 22:00")  # (31st 00:00) the range's end: out
    stranger = make_session(other_tenant.project, anon_id="A")
    make_event(stranger, "2026-03-29 12:00")
    return project


def test_day_buckets_count_local_days_across_the_spring_change(spring_traffic):
    scope = {
        "project_id": spring_traffic.id,
        "time_range": parse_range("2026-03-28", "2026-03-30", now=timezone.now(), time_zone=BERLIN),
        "interval": Interval.DAY,
    }
    stats = selectors.traffic_stats(**scope)
    assert [(bucket.start, bucket.page_views, bucket.sessions) for bucket in stats.series] == [
        (at("2026-03-27 23:00"), 2, 2),
        (at("2026-03-28 23:00"), 3, 2),  # the 23-hour day: s2 (again) and s3
        (at("2026-03-29 22:00"), 1, 1),
    ]
    assert (stats.totals.page_views, stats.totals.events, stats.totals.sessions) == (6, 7, 4)
    assert stats == reference.traffic_stats(**scope)


@pytest.fixture
def autumn_traffic(tenant):
    """Berlin, 25 October 2026: the clocks show 02:30 twice."""
    project = in_zone(tenant, BERLIN)
    session = make_session(project)
    for moment in (
        "2026-10-24 21:59",  # (24th 23:59) out
        "2026-10-24 22:00",  # (25th 00:00 CEST)
        "2026-10-25 00:30",  # (02:30 CEST)
        "2026-10-25 01:30",  # (02:30 CET)
        "2026-10-25 22:59",  # (23:59 CET)
        "2026-10-25 23:00",  # (26th 00:00) out
    ):
        make_event(session, moment)
    return project


def test_the_25_hour_day_through_the_api(admin_api, autumn_traffic):
    url = f"/v1/projects/{autumn_traffic.id}/stats?from=2026-10-25&to=2026-10-25"
    body = admin_api.get(f"{url}&interval=hour").json()
    assert (body["timeZone"], body["from"], body["to"]) == (BERLIN, "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z")
    assert (body["previousFrom"], body["previousTo"]) == ("2026-10-23T22:00:00Z", "2026-10-24T22:00:00Z")
    assert len(body["series"]) == 25
    viewed = {bucket["start"]: bucket["pageViews"] for bucket in body["series"] if bucket["pageViews"]}
    assert viewed == {
        "2026-10-24T22:00:00Z": 1,
        "2026-10-25T00:00:00Z": 1,
        "2026-10-25T01:00:00Z": 1,
        "2026-10-25T22:00:00Z": 1,
    }
    by_day = admin_api.get(f"{url}&interval=day").json()
    assert by_day["series"] == [{"start": "2026-10-24T22:00:00Z", "pageViews": 4, "sessions": 1}]
    assert by_day["totals"]["pageViews"] == 4


def test_a_utc_project_answers_in_utc(admin_api, tenant):
    body = admin_api.get(f"/v1/projects/{tenant.project.id}/stats?from=2026-10-25&to=2026-10-25").json()
    assert (body["timeZone"], body["from"], body["to"]) == ("UTC", "2026-10-25T00:00:00Z", "2026-10-26T00:00:00Z")


def test_the_heatmap_reads_dates_in_the_zone(admin_api, tenant):
    in_zone(tenant, BERLIN)
    url = f"/v1/projects/{tenant.project.id}/heatmap?path=/&from=2026-03-29&to=2026-03-29"
    body = admin_api.get(url).json()
    assert (body["timeZone"], body["from"], body["to"]) == (BERLIN, "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z")


def test_a_change_of_zone_moves_the_answers_days(admin_api, spring_traffic):
    url = f"/v1/projects/{spring_traffic.id}"
    body = admin_api.get(f"{url}/stats?from=2026-03-29&to=2026-03-29").json()
    assert (body["from"], body["totals"]["pageViews"]) == ("2026-03-28T23:00:00Z", 3)
    admin_api.patch(url, {"timeZone": "UTC"}, content_type="application/json")
    body = admin_api.get(f"{url}/stats?from=2026-03-29&to=2026-03-29").json()
    # UTC's 29th: s3's two page views and s4's midnight, a Berlin 30th.
    assert (body["timeZone"], body["from"], body["totals"]["pageViews"]) == ("UTC", "2026-03-29T00:00:00Z", 3)
    assert body["series"] == [{"start": "2026-03-29T00:00:00Z", "pageViews": 3, "sessions": 2}]


@pytest.fixture
def kolkata_traffic(tenant):
    """Kolkata, 9 to 11 March 2026 (local times in brackets); the UTC hours 18:00-19:00 of the
    9th and the 10th each hold the end of one local day and the start of the next."""
    project = in_zone(tenant, KOLKATA)
    s1 = make_session(project, anon_id="A")
    make_event(s1, "2026-03-08 18:29")  # (8th 23:59) out
    make_event(s1, "2026-03-08 18:30")  # (9th 00:00)
    s2 = make_session(project, anon_id="B")
    make_event(s2, "2026-03-09 18:10")  # (9th 23:40)
    make_event(s2, "2026-03-09 18:40")  # (10th 00:10) same UTC hour, next local day
    s3 = make_session(project, anon_id="C")
    make_event(s3, "2026-03-09 18:50")  # (10th 00:20)
    s4 = make_session(project, anon_id="D")
    make_event(s4, "2026-03-10 12:00")  # (10th 17:30)
    s5 = make_session(project, anon_id="E")
    make_event(s5, "2026-03-11 18:29")  # (11th 23:59)
    make_event(s5, "2026-03-11 18:30")  # (12th 00:00) out
    return project


def test_days_that_begin_mid_hour_split_that_hour_between_them(kolkata_traffic):
    scope = {
        "project_id": kolkata_traffic.id,
        "time_range": parse_range("2026-03-09", "2026-03-11", now=timezone.now(), time_zone=KOLKATA),
        "interval": Interval.DAY,
    }
    stats = selectors.traffic_stats(**scope)
    assert [(bucket.start, bucket.page_views, bucket.sessions) for bucket in stats.series] == [
        (at("2026-03-08 18:30"), 2, 2),
        (at("2026-03-09 18:30"), 3, 3),
        (at("2026-03-10 18:30"), 1, 1),
    ]
    assert (stats.totals.page_views, stats.totals.sessions) == (6, 5)
    assert stats == reference.traffic_stats(**scope)
    filtered = {**scope, "filters": {"device": "desktop"}}
    assert selectors.traffic_stats(**filtered) == reference.traffic_stats(**filtered)


@pytest.mark.parametrize("interval", list(Interval))
def test_one_local_day_with_half_hour_edges_gives_the_raw_numbers(kolkata_traffic, interval):
    scope = {
        "project_id": kolkata_traffic.id,
        "time_range": parse_range("2026-03-10", "2026-03-10", now=timezone.now(), time_zone=KOLKATA),
        "interval": interval,
    }
    stats = selectors.traffic_stats(**scope)
    assert stats.totals.page_views == 3 and stats.totals.sessions == 3
    assert stats == reference.traffic_stats(**scope)


def test_the_dashboard_shows_local_dates_and_hours(admin_client, spring_traffic):
    url = f"/admin/projects/project/{spring_traffic.id}/insights/?range=custom&from=2026-03-29&to=2026-03-29"
    response = admin_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "2026-03-29 00:00 to 2026-03-30 00:00" in page and "Europe/Berlin (end excluded)" in page
    assert "Dates are days of Europe/Berlin" in page
    # Per hour (the default up to two days): 23 bars, the clocks skipping 02:00.
    assert page.count('<rect class="views"') == 23
    assert "29 Mar 01:00 Europe/Berlin: 1 page views" in page
    assert "29 Mar 03:00 Europe/Berlin: 1 page views" in page
    assert "29 Mar 02:00" not in page
    assert response.context["stats"].totals.page_views == 3


def test_the_dashboards_today_is_the_local_day(admin_client, spring_traffic, monkeypatch):
    # 00:30 on 30 March in Berlin, still the 29th in UTC.
    monkeypatch.setattr(timezone, "now", lambda: at("2026-03-29 22:30"))
    response = admin_client.get(f"/admin/projects/project/{spring_traffic.id}/insights/?range=today")
    time_range = response.context["stats"].time_range
    assert (time_range.start, time_range.end) == (at("2026-03-29 22:00"), at("2026-03-30 22:00"))
    assert "2026-03-30 00:00 to 2026-03-31 00:00" in response.content.decode()
    assert response.context["stats"].totals.page_views == 1  # s4's local midnight


def test_a_kolkata_dashboard_labels_hours_at_half_past(admin_client, kolkata_traffic):
    url = f"/admin/projects/project/{kolkata_traffic.id}/insights/?range=custom&from=2026-03-10&to=2026-03-10"
    page = admin_client.get(url).content.decode()
    # UTC hours on the local clock: the day's first half hour is in the UTC hour from 23:30.
    assert "09 Mar 23:30 Asia/Kolkata" in page and "10 Mar 05:30 Asia/Kolkata" in page
    assert "10 Mar 06:00" not in page
    assert page.count('<rect class="views"') == 25  # 23 whole hours and a half at each end


def test_a_project_created_with_a_zone_reports_in_it(admin_api, db):
    project = services.create_project(name="ny", origins=[], time_zone="America/New_York")
    body = admin_api.get(f"/v1/projects/{project.id}/stats?from=2026-03-08&to=2026-03-08&interval=hour").json()
    # New York's 8 March 2026 has 23 hours: from 05:00 UTC (EST) to 04:00 UTC the next day (EDT).
    assert (body["from"], body["to"], len(body["series"])) == ("2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", 23)
