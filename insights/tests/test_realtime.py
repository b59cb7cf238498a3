"""The dashboard's realtime box: visitors of the last 5 minutes and page views per minute of
the last 30, read from raw events, kept a few seconds per project, served as admin JSON."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.utils import timezone

from ingest.tests.factories import at, make_event, make_session
from insights import selectors

pytestmark = pytest.mark.django_db

NOW = at("2025-03-10 12:30:30")  # the window is [12:01, 12:31), the visitors' [12:25:30, 12:31)


@pytest.fixture
def last_half_hour(tenant, other_tenant):
    project = tenant.project
    x = make_session(project, anon_id="x")
    make_event(x, "2025-03-10 12:30:10", path="/")
    make_event(x, "2025-03-10 12:30:20", type="click", path="/")
    make_event(make_session(project, anon_id="y"), "2025-03-10 12:27:00", path="/a")
    make_event(make_session(project, anon_id="x"), "2025-03-10 12:26:00", path="/b")  # x again
    make_event(make_session(project, anon_id="z"), "2025-03-10 12:20:00", path="/c")  # not in 5 minutes
    make_event(make_session(project, anon_id="w"), "2025-03-10 12:00:59", path="/d")  # not in 30 minutes
    make_event(make_session(other_tenant.project, anon_id="q"), "2025-03-10 12:30:00", path="/secret")
    return tenant


def test_it_counts_visitors_of_five_minutes_and_page_views_per_minute(last_half_hour):
    realtime = selectors.realtime_traffic(project_id=last_half_hour.project.id, now=NOW)
    assert realtime.visitors == 2  # x and y
    assert [bucket.start for bucket in realtime.per_minute] == [
        at("2025-03-10 12:01") + timedelta(minutes=n) for n in range(30)
    ]
    busy = {f"{bucket.start:%H:%M}": (bucket.page_views, bucket.sessions) for bucket in realtime.per_minute}
    assert {minute: counts for minute, counts in busy.items() if counts != (0, 0)} == {
        "12:20": (1, 1),
        "12:26": (1, 1),
        "12:27": (1, 1),
        "12:30": (1, 1),  # a page view and a click of one session
    }


def test_an_idle_project_has_thirty_empty_minutes(tenant):
    realtime = selectors.realtime_traffic(project_id=tenant.project.id, now=NOW)
    assert realtime.visitors == 0
    assert len(realtime.per_minute) == 30
    assert {(bucket.page_views, bucket.sessions) for bucket in realtime.per_minute} == {(0, 0)}


def test_the_answer_is_kept_per_project_for_a_few_seconds(last_half_hour, other_tenant):
    project_id = last_half_hour.project.id
    first = selectors.cached_realtime_traffic(project_id=project_id, now=NOW)
    make_event(make_session(last_half_hour.project, anon_id="late"), "2025-03-10 12:30:25", path="/")
    assert selectors.cached_realtime_traffic(project_id=project_id, now=NOW) == first
    # Another project is not answered from this one's entry.
    assert selectors.cached_realtime_traffic(project_id=other_tenant.project.id, now=NOW).visitors == 1
    cache.clear()
    assert selectors.cached_realtime_traffic(project_id=project_id, now=NOW).visitors == 3


def realtime_url(project) -> str:
    return f"/admin/projects/project/{project.id}/insights/realtime/"


def test_the_admin_serves_it_as_json_for_the_box_to_poll(admin_client, tenant, other_tenant):
    two_minutes_ago = (timezone.now() - timedelta(minutes=2)).replace(tzinfo=None).isoformat()
    make_event(make_session(tenant.project, anon_id="r"), two_minutes_ago, path="/")
    make_event(make_session(other_tenant.project, anon_id="s"), two_minutes_ago, path="/")
    make_event(make_session(other_tenant.project, anon_id="t"), two_minutes_ago, path="/")
    response = admin_client.get(realtime_url(tenant.project))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert (body["projectId"], body["visitors"]) == (str(tenant.project.id), 1)
    assert len(body["perMinute"]) == 30
    assert sum(minute["pageViews"] for minute in body["perMinute"]) == 1
    assert set(body["perMinute"][0]) == {"start", "pageViews", "sessions"}


def test_the_dashboard_draws_the_box_with_a_script_from_a_file(admin_client, tenant):
    html = admin_client.get(f"/admin/projects/project/{tenant.project.id}/insights/").content.decode()
    assert f'data-realtime-url="{realtime_url(tenant.project)}"' in html
    assert html.count('<span style="height:0%"') == 30
    assert 'src="/static/insights/realtime.js"' in html
    assert "onclick" not in html and "<script>" not in html


def test_only_staff_who_may_view_projects_get_it(client, tenant):
    assert client.get(realtime_url(tenant.project)).status_code == 302  # to the login page
    staff = User.objects.create_user("staff", password="a-long-password-1", is_staff=True)
    client.force_login(staff)
    assert client.get(realtime_url(tenant.project)).status_code == 403


@pytest.mark.parametrize("project_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_project_is_not_found(admin_client, project_id):
    assert admin_client.get(f"/admin/projects/project/{project_id}/insights/realtime/").status_code == 404


def test_the_api_answers_the_same_for_the_admin_key(admin_api, tenant, other_tenant):
    two_minutes_ago = (timezone.now() - timedelta(minutes=2)).replace(tzinfo=None).isoformat()
    make_event(make_session(tenant.project, anon_id="r"), two_minutes_ago, path="/")
    make_event(make_session(tenant.project, anon_id="r"), two_minutes_ago, path="/about")
    make_event(make_session(other_tenant.project, anon_id="s"), two_minutes_ago, path="/")
    response = admin_api.get(f"/v1/projects/{tenant.project.id}/realtime")
    assert response.status_code == 200
    body = response.json()
    assert (body["projectId"], body["visitors"]) == (str(tenant.project.id), 1)
    assert sum(minute["pageViews"] for minute in body["perMinute"]) == 2
    assert sum(minute["sessions"] for minute in body["perMinute"]) == 2


def test_the_api_refuses_a_missing_admin_key_and_an_unknown_project(client, admin_api, tenant):
    refused = client.get(f"/v1/projects/{tenant.project.id}/realtime")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_admin_key"
    missing = admin_api.get("/v1/projects/00000000-0000-0000-0000-000000000000/realtime")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "project_not_found"


def test_the_box_labels_minutes_on_the_projects_clock(admin_client, tenant):
    tenant.project.time_zone = "Asia/Kolkata"
    tenant.project.save(update_fields=["time_zone"])
    moment = timezone.now() - timedelta(minutes=2)
    make_event(make_session(tenant.project, anon_id="r"), moment.replace(tzinfo=None).isoformat(), path="/")
    html = admin_client.get(f"/admin/projects/project/{tenant.project.id}/insights/").content.decode()
    kolkata = moment + timedelta(hours=5, minutes=30)  # no daylight saving there
    assert f'title="{kolkata:%H:%M}: 1 page views"' in html
    assert "(Asia/Kolkata, refreshed every 10 s)" in html
    assert 'data-time-zone="Asia/Kolkata"' in html
