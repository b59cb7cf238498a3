"""GET /v1/projects/<id>/stats and the selectors behind it, against hand-counted traffic.

The range 2025-03-10..2025-03-11 (UTC, two whole days) holds five sessions of `tenant`:

  s1  visitor A  google   en-US  1440x900  page_view / 03-10 23:50, page_view /pricing 03-11 00:10,
                                            signup 03-11 00:12           (crosses midnight)
  s2  visitor A  direct   de-DE  390x844   page_view / 03-10 10:15       (a bounce)
  s3  visitor B  google   en-US  1440x900  page_view /docs 10:59, page_view / 11:01 and 11:30,
                                            copy_code 11:31              (crosses an hour)
  s4  visitor C  hn       -      unknown   video_play 03-11 09:00        (no page view)
  s5  visitor D  direct   -      unknown   page_view 03-09 23:59:59 (before the range),
                                            page_view 03-10 00:00 (the first instant: in it)

plus s6, whose only page view is at 03-12 00:00 (the range's end, excluded), and traffic of
`other_tenant` inside the range that must never be counted.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.errors import ApiError
from ingest.models import Event, Session
from ingest.tests.factories import at, make_event, make_session
from insights import selectors
from insights.tests import reference
from insights.time_ranges import Interval, TimeRange, bucket_starts, parse_range

pytestmark = pytest.mark.django_db

GOOGLE = "https://www.google.com/"
HN = "https://news.ycombinator.com/"
RANGE = "from=2025-03-10&to=2025-03-11"


@pytest.fixture
def traffic(tenant, other_tenant):
    project = tenant.project
    s1 = make_session(project, anon_id="A", referrer=GOOGLE, language="en-US", screen_width=1440, screen_height=900)
    make_event(s1, "2025-03-10 23:50", path="/")
    make_event(s1, "2025-03-11 00:10", path="/pricing")
    make_event(s1, "2025-03-11 00:12", type="signup", path="/pricing")
    s2 = make_session(project, anon_id="A", language="de-DE", screen_width=390, screen_height=844)
    make_event(s2, "2025-03-10 10:15", path="/")
    s3 = make_session(project, anon_id="B", referrer=GOOGLE, language="en-US", screen_width=1440, screen_height=900)
    make_event(s3, "2025-03-10 10:59", path="/docs")
    make_event(s3, "2025-03-10 11:01", path="/")
    make_event(s3, "2025-03-10 11:30", path="/")
    make_event(s3, "2025-03-10 11:31", type="copy_code", path="/")
    s4 = make_session(project, anon_id="C", referrer=HN)
    make_event(s4, "2025-03-11 09:00", type="video_play", path="/")
    s5 = make_session(project, anon_id="D")
    make_event(s5, "2025-03-09 23:59:59", path="/")
    make_event(s5, "2025-03-10 00:00", path="/")
    s6 = make_session(project, anon_id="E")
    make_event(s6, "2025-03-12 00:00", path="/late")

    stranger = make_session(other_tenant.project, anon_id="A", referrer="https://leak.example/", language="xx")
    for when in ("2025-03-10 10:00", "2025-03-10 23:59", "2025-03-11 12:00"):
        make_event(stranger, when, path="/secret")
    make_event(stranger, "2025-03-11 12:01", type="leak", path="/secret")
    return tenant


def test_totals_follow_the_definitions(traffic):
    time_range = TimeRange(start=at("2025-03-10 00:00"), end=at("2025-03-12 00:00"))
    totals = selectors.session_rollup(project_id=traffic.project.id, time_range=time_range).totals
    assert totals == selectors.Totals(
        page_views=7, events=10, sessions=5, visitors=4, sessions_with_page_view=4, bounced_sessions=2
    )
    assert totals.events_per_session == 2.0
    assert totals.bounce_rate == 0.5


def test_the_stats_endpoint_answers_the_hand_counted_numbers(traffic, admin_api):
    response = admin_api.get(f"/v1/projects/{traffic.project.id}/stats?{RANGE}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["projectId"] == str(traffic.project.id)
    assert (body["from"], body["to"], body["interval"], body["timeZone"]) == (
        "2025-03-10T00:00:00Z",
        "2025-03-12T00:00:00Z",
        "day",
        "UTC",
    )
    assert body["totals"] == {
        "pageViews": 7,
        "events": 10,
        "sessions": 5,
        "visitors": 4,
        "visitorsEstimated": False,
        "visitorsStandardError": None,
        "eventsPerSession": 2.0,
        "sessionsWithPageView": 4,
        "bouncedSessions": 2,
        "bounceRate": 0.5,
    }
    # s1 counts on both days: it had an event before and after midnight.
    assert body["series"] == [
        {"start": "2025-03-10T00:00:00Z", "pageViews": 6, "sessions": 4},
        {"start": "2025-03-11T00:00:00Z", "pageViews": 1, "sessions": 2},
    ]
    assert body["topPaths"] == [
        {"path": "/", "pageViews": 5},
        {"path": "/docs", "pageViews": 1},
        {"path": "/pricing", "pageViews": 1},
    ]
    assert body["topEventTypes"] == [
        {"type": "page_view", "events": 7},
        {"type": "copy_code", "events": 1},
        {"type": "signup", "events": 1},
        {"type": "video_play", "events": 1},
    ]
    assert body["topReferrers"] == [
        {"referrer": "", "sessions": 2},
        {"referrer": GOOGLE, "sessions": 2},
        {"referrer": HN, "sessions": 1},
    ]
    assert body["languages"] == [
        {"language": "", "sessions": 2},
        {"language": "en-US", "sessions": 2},
        {"language": "de-DE", "sessions": 1},
    ]
    assert body["screenSizes"] == [
        {"width": 1440, "height": 900, "sessions": 2},
        {"width": None, "height": None, "sessions": 2},
        {"width": 390, "height": 844, "sessions": 1},
    ]
    # Entries: s1, s2 and s5 at / (s5's earlier view is before the range), s3 at /docs; exits:
    # s1 at /pricing, s2, s3 and s5 at /. s4 viewed no page.
    assert body["entryPages"] == [{"path": "/", "sessions": 3}, {"path": "/docs", "sessions": 1}]
    assert body["exitPages"] == [{"path": "/", "sessions": 3}, {"path": "/pricing", "sessions": 1}]
    # s1 22 min, s3 32 min; s2, s4 and s5 one event each in the range: 0, 0, 0, 1320, 1920 s.
    assert body["visitDuration"] == {
        "sessions": 5,
        "singleEventSessions": 3,
        "medianSeconds": 0.0,
        "meanSeconds": 648.0,
    }


def test_hourly_buckets_count_a_session_in_every_hour_it_was_active(traffic, admin_api):
    response = admin_api.get(f"/v1/projects/{traffic.project.id}/stats?{RANGE}&interval=hour")
    assert response.status_code == 200
    series = response.json()["series"]
    assert len(series) == 48
    busy = {row["start"]: (row["pageViews"], row["sessions"]) for row in series if row["sessions"]}
    assert busy == {
        "2025-03-10T00:00:00Z": (1, 1),
        "2025-03-10T10:00:00Z": (2, 2),
        "2025-03-10T11:00:00Z": (2, 1),
        "2025-03-10T23:00:00Z": (1, 1),
        "2025-03-11T00:00:00Z": (1, 1),
        "2025-03-11T09:00:00Z": (0, 1),
    }
    assert sum(row["pageViews"] for row in series) == 7


def test_every_breakdown_adds_up_to_its_total(traffic, admin_api):
    body = admin_api.get(f"/v1/projects/{traffic.project.id}/stats?{RANGE}").json()
    totals = body["totals"]
    assert sum(row["pageViews"] for row in body["series"]) == totals["pageViews"]
    assert sum(row["pageViews"] for row in body["topPaths"]) == totals["pageViews"]
    assert sum(row["events"] for row in body["topEventTypes"]) == totals["events"]
    for breakdown in ("topReferrers", "languages", "screenSizes"):
        assert sum(row["sessions"] for row in body[breakdown]) == totals["sessions"]


def test_datetimes_narrow_the_range_to_the_instant(traffic, admin_api):
    # 11:00+01:00 is 10:00 UTC; up to 11:30 UTC exclusive: s2 10:15, s3 10:59 and 11:01.
    response = admin_api.get(
        f"/v1/projects/{traffic.project.id}/stats",
        {"from": "2025-03-10T11:00:00+01:00", "to": "2025-03-10T11:30:00Z", "interval": "hour"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"]) == ("2025-03-10T10:00:00Z", "2025-03-10T11:30:00Z")
    assert body["totals"]["pageViews"] == 3
    assert body["totals"]["sessions"] == 2
    assert [row["start"] for row in body["series"]] == ["2025-03-10T10:00:00Z", "2025-03-10T11:00:00Z"]


def test_an_empty_range_has_zeros_and_no_undefined_ratios(tenant, admin_api):
    response = admin_api.get(f"/v1/projects/{tenant.project.id}/stats?{RANGE}")
    assert response.status_code == 200
    body = response.json()
    assert body["totals"]["pageViews"] == 0
    assert body["totals"]["eventsPerSession"] is None
    assert body["totals"]["bounceRate"] is None
    assert [row["pageViews"] for row in body["series"]] == [0, 0]
    assert body["topPaths"] == []
    assert (body["entryPages"], body["exitPages"]) == ([], [])
    assert body["visitDuration"] == {
        "sessions": 0,
        "singleEventSessions": 0,
        "medianSeconds": None,
        "meanSeconds": None,
    }


def test_the_default_is_the_last_seven_days_per_day_today_included(tenant, admin_api):
    session = make_session(tenant.project)
    now = timezone.now()
    make_event(session, now.replace(tzinfo=None).isoformat())
    make_event(session, (now - timedelta(days=8)).replace(tzinfo=None).isoformat())
    body = admin_api.get(f"/v1/projects/{tenant.project.id}/stats").json()
    assert body["interval"] == "day"
    assert len(body["series"]) == 7
    assert body["series"][-1]["start"] == now.strftime("%Y-%m-%dT00:00:00Z")
    assert body["totals"]["pageViews"] == 1


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("from=yesterday", 400, "invalid_field", "from"),
        ("to=2025-13-01", 400, "invalid_field", "to"),
        ("from=2025-03-10T25:00", 400, "invalid_field", "from"),
        ("from=2025-03-11&to=2025-03-10", 400, "invalid_range", None),
        ("from=2025-03-10T12:00Z&to=2025-03-10T12:00Z", 400, "invalid_range", None),
        ("interval=week", 400, "invalid_field", "interval"),
        ("from=2025-01-01&to=2025-03-01&interval=hour", 400, "range_too_large", None),
        ("from=2020-01-01&to=2025-03-01", 400, "range_too_large", None),
        ("to=0001-01-02", 400, "invalid_field", "to"),
        # The end of time: walking the hours used to step past datetime's last year (a 500).
        ("from=9999-12-31T00:00&to=9999-12-31T23:59&interval=hour", 400, "invalid_field", "to"),
        ("from=9999-12-30&to=9999-12-31T23:59:59.999999", 400, "invalid_field", "to"),
    ],
)
def test_bad_parameters_are_clear_400s(tenant, admin_api, query, status, code, field):
    response = admin_api.get(f"/v1/projects/{tenant.project.id}/stats?{query}")
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if field:
        assert error["details"]["field"] == field


def test_a_single_day_and_31_days_of_hours_are_accepted(tenant, admin_api):
    one_day = admin_api.get(f"/v1/projects/{tenant.project.id}/stats?from=2025-03-10&to=2025-03-10")
    assert one_day.status_code == 200
    assert len(one_day.json()["series"]) == 1
    month = admin_api.get(f"/v1/projects/{tenant.project.id}/stats?from=2025-03-01&to=2025-03-31&interval=hour")
    assert month.status_code == 200
    assert len(month.json()["series"]) == 31 * 24


@pytest.mark.parametrize("project_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "1"])
def test_unknown_or_malformed_projects_are_404(admin_api, db, project_id):
    response = admin_api.get(f"/v1/projects/{project_id}/stats")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "project_not_found"


def test_the_admin_key_is_required(tenant, client, settings):
    settings.ADMIN_API_KEY = "test-admin-key-0123456789abcdef"
    url = f"/v1/projects/{tenant.project.id}/stats"
    assert client.get(url).status_code == 401
    wrong = client.get(url, headers={"x-admin-key": "wrong-admin-key-0123456789abc"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_admin_key"


def test_bucket_starts_cover_partial_first_and_last_buckets():
    time_range = TimeRange(start=at("2025-03-10 10:30"), end=at("2025-03-10 12:15"))
    assert bucket_starts(time_range, Interval.HOUR) == [
        at("2025-03-10 10:00"),
        at("2025-03-10 11:00"),
        at("2025-03-10 12:00"),
    ]
    assert bucket_starts(time_range, Interval.DAY) == [at("2025-03-10 00:00")]


def test_a_date_in_to_includes_that_whole_day_and_naive_times_are_utc():
    now = datetime(2025, 3, 20, 15, 0, tzinfo=UTC)
    assert parse_range("2025-03-10", "2025-03-10", now=now) == TimeRange(
        start=at("2025-03-10 00:00"), end=at("2025-03-11 00:00")
    )
    assert parse_range("2025-03-10T08:00", None, now=now).end == at("2025-03-21 00:00")
    assert parse_range(None, "2025-03-10T08:00", now=now).start == at("2025-03-03 08:00")
    with pytest.raises(ApiError):
        parse_range("2025-03-10", "2025-03-09", now=now)


def test_the_reference_counts_the_hand_counted_numbers(traffic):
    # The tests of the rollups lean on insights/tests/reference.py; it must itself be right.
    scope = {
        "project_id": traffic.project.id,
        "time_range": TimeRange(start=at("2025-03-10 00:00"), end=at("2025-03-12 00:00")),
        "interval": Interval.DAY,
    }
    counted = reference.traffic_stats(**scope)
    assert counted.totals == selectors.Totals(
        page_views=7, events=10, sessions=5, visitors=4, sessions_with_page_view=4, bounced_sessions=2
    )
    assert [(bucket.page_views, bucket.sessions) for bucket in counted.series] == [(6, 4), (1, 2)]
    assert [(row.width, row.height, row.sessions) for row in counted.screen_sizes] == [
        (1440, 900, 2),
        (None, None, 2),
        (390, 844, 1),
    ]
    assert [(row.value, row.count) for row in counted.top_referrers] == [("", 2), (GOOGLE, 2), (HN, 1)]
    assert counted == selectors.traffic_stats(**scope)


@pytest.mark.parametrize("interval", list(Interval))
def test_an_unaligned_range_gives_the_numbers_of_the_raw_events(traffic, interval):
    # Partial hours at both edges (raw events) around whole hours (rollups), one session
    # crossing midnight and one crossing an hour.
    scope = {
        "project_id": traffic.project.id,
        "time_range": TimeRange(start=at("2025-03-10 10:30"), end=at("2025-03-11 00:11")),
        "interval": interval,
    }
    found = selectors.traffic_stats(**scope)
    assert found == reference.traffic_stats(**scope)
    assert found.totals.sessions == 2  # s3 from 10:59 and s1; s2's 10:15 is before the start


def test_the_stats_count_what_generate_traffic_wrote(tenant):
    before = timezone.now()
    call_command("generate_traffic", str(tenant.project.id), "--days", "3", "--events", "1500", "--seed", "7")
    after = timezone.now()
    events = Event.objects.filter(project=tenant.project)
    totals = selectors.session_rollup(
        project_id=tenant.project.id, time_range=TimeRange(start=before - timedelta(days=4), end=after)
    ).totals
    assert (totals.events, totals.sessions) == (1500, Session.objects.filter(project=tenant.project).count())
    assert totals.page_views == events.filter(type="page_view").count()
    assert 0 < totals.bounce_rate < 1
