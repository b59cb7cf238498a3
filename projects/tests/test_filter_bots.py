"""The per-project filterBots switch (admin API, Django admin) and the hourly count of bots."""

import json
from datetime import UTC, datetime

import pytest

from projects import services
from projects.models import FilteredBotHour, Project
from projects.selectors import project_for_key

pytestmark = pytest.mark.django_db

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def patch(client, project_id, body):
    return client.patch(f"/v1/projects/{project_id}", data=json.dumps(body), content_type="application/json")


def test_a_new_project_filters_bots_unless_told_otherwise(admin_api):
    default = admin_api.post("/v1/projects", data={"name": "shop"}, content_type="application/json").json()
    off = admin_api.post(
        "/v1/projects", data={"name": "lab", "filterBots": False}, content_type="application/json"
    ).json()
    assert (default["filterBots"], off["filterBots"]) == (True, False)
    assert dict(Project.objects.values_list("name", "filter_bots")) == {"shop": True, "lab": False}


def test_the_project_list_shows_the_switch(admin_api, tenant):
    [project] = admin_api.get("/v1/projects").json()["projects"]
    assert project["filterBots"] is True


def test_patch_switches_filtering_and_the_next_request_sees_it(
    admin_api, client, tenant, django_capture_on_commit_callbacks
):
    assert project_for_key(key=tenant.key).filter_bots is True  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        response = patch(admin_api, tenant.project.id, {"filterBots": False})
    assert response.status_code == 200
    assert response.json() | {"createdAt": None} == {
        "id": str(tenant.project.id),
        "name": "shop",
        "origins": [tenant.origin],
        "createdAt": None,
        "filterBots": False,
        "retentionDays": None,
        "timeZone": "UTC",
    }
    assert project_for_key(key=tenant.key).filter_bots is False
    batch = {"apiKey": tenant.key, "session": {"sessionId": "s", "anonId": "a"}, "events": [{"type": "page_view"}]}
    answer = client.post("/v1/ingest", data=json.dumps(batch), content_type="text/plain", HTTP_USER_AGENT=GOOGLEBOT)
    assert answer.json()["accepted"] == {"events": 1, "movement": 0}


def test_patch_keeps_what_it_is_not_given(admin_api, tenant):
    response = patch(admin_api, tenant.project.id, {"name": "renamed"})
    assert response.status_code == 200
    tenant.project.refresh_from_db()
    assert (tenant.project.name, tenant.project.origins, tenant.project.filter_bots) == (
        "renamed",
        [tenant.origin],
        True,
    )


@pytest.mark.parametrize("value", ["no", 0, "false", None])
def test_filter_bots_must_be_a_json_boolean(admin_api, tenant, value):
    response = patch(admin_api, tenant.project.id, {"filterBots": value})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == "filterBots"
    tenant.project.refresh_from_db()
    assert tenant.project.filter_bots is True


def test_patch_answers_404_for_an_unknown_project_and_401_without_the_admin_key(admin_api, client, tenant):
    assert patch(admin_api, "00000000-0000-0000-0000-000000000000", {}).status_code == 404
    assert patch(client, tenant.project.id, {"filterBots": False}).status_code == 401
    tenant.project.refresh_from_db()
    assert tenant.project.filter_bots is True


def test_a_staff_user_switches_filtering_in_the_admin(admin_client, tenant):
    response = admin_client.post(
        f"/admin/projects/project/{tenant.project.id}/change/",
        {"name": "shop", "origins_text": tenant.origin, "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 302
    tenant.project.refresh_from_db()
    assert tenant.project.filter_bots is False  # an unticked box
    page = admin_client.get(f"/admin/projects/project/{tenant.project.id}/change/")
    assert b'name="filter_bots"' in page.content


def test_filtered_requests_are_counted_per_project_and_hour(tenant, other_tenant):
    for hour, minute in ((9, 0), (9, 59), (10, 0)):
        arrival = datetime(2026, 3, 1, hour, minute, tzinfo=UTC)
        services.count_filtered_bot(project_id=tenant.project.id, received_at=arrival)
    rows = FilteredBotHour.objects.order_by("hour").values_list("project_id", "hour", "requests")
    assert list(rows) == [
        (tenant.project.id, datetime(2026, 3, 1, 9, tzinfo=UTC), 2),
        (tenant.project.id, datetime(2026, 3, 1, 10, tzinfo=UTC), 1),
    ]
