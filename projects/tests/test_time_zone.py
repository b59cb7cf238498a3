"""A project's time zone: set, read and changed through the admin API and the Django admin;
anything but an IANA name is refused and nothing stored."""

import pytest
from django.contrib.auth.models import User

from projects.models import Project

pytestmark = pytest.mark.django_db


def test_a_new_project_is_in_utc_unless_given_a_zone(admin_api):
    plain = admin_api.post("/v1/projects", {"name": "a"}, content_type="application/json")
    assert plain.status_code == 201
    assert plain.json()["timeZone"] == "UTC"
    own = admin_api.post("/v1/projects", {"name": "b", "timeZone": "Europe/Berlin"}, content_type="application/json")
    assert own.status_code == 201, own.content
    assert own.json()["timeZone"] == "Europe/Berlin"
    assert Project.objects.get(pk=own.json()["id"]).time_zone == "Europe/Berlin"


def test_patch_changes_the_zone_and_a_change_without_it_keeps_it(tenant, admin_api):
    url = f"/v1/projects/{tenant.project.id}"
    changed = admin_api.patch(url, {"timeZone": "America/New_York"}, content_type="application/json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["timeZone"] == "America/New_York" and changed.json()["name"] == "shop"
    renamed = admin_api.patch(url, {"name": "shop2"}, content_type="application/json")
    assert renamed.json()["timeZone"] == "America/New_York"
    assert admin_api.get(url).json()["timeZone"] == "America/New_York"
    assert admin_api.get("/v1/projects").json()["projects"][0]["timeZone"] == "America/New_York"
    tenant.project.refresh_from_db()
    assert tenant.project.time_zone == "America/New_York"


@pytest.mark.parametrize(
    "value", ["Mars/Olympus_Mons", "europe/berlin", "", "+02:00", "Europe/Berlin\x00", "x" * 65, 1, None, ["UTC"]]
)
def test_a_zone_that_is_not_an_iana_name_is_refused_and_nothing_changes(tenant, admin_api, value):
    url = f"/v1/projects/{tenant.project.id}"
    response = admin_api.patch(url, {"timeZone": value, "name": "renamed"}, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_field" and error["details"]["field"] == "timeZone"
    tenant.project.refresh_from_db()
    assert (tenant.project.time_zone, tenant.project.name) == ("UTC", "shop")


def test_creating_with_an_unknown_zone_stores_no_project(admin_api, db):
    response = admin_api.post("/v1/projects", {"name": "a", "timeZone": "Berlin"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == "timeZone"
    assert not Project.objects.exists()


def admin_form(tenant, **fields) -> dict:
    return {
        "name": "shop",
        "origins_text": tenant.origin,
        "keys-TOTAL_FORMS": "0",
        "keys-INITIAL_FORMS": "0",
        **fields,
    }


def test_the_django_admin_offers_and_sets_the_zone(tenant, client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    url = f"/admin/projects/project/{tenant.project.id}/change/"
    form = client.get(url)
    assert b'<option value="Asia/Kolkata">' in form.content
    assert b'<option value="UTC" selected>' in form.content
    response = client.post(url, admin_form(tenant, time_zone="Asia/Kolkata"))
    assert response.status_code == 302, response.content[:2000]
    tenant.project.refresh_from_db()
    assert tenant.project.time_zone == "Asia/Kolkata"
    assert b"Asia/Kolkata" in client.get("/admin/projects/project/").content


def test_the_django_admin_refuses_an_unknown_zone(tenant, client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    response = client.post(
        f"/admin/projects/project/{tenant.project.id}/change/", admin_form(tenant, time_zone="Europe/Atlantis")
    )
    assert response.status_code == 200
    assert b"errorlist" in response.content
    tenant.project.refresh_from_db()
    assert tenant.project.time_zone == "UTC"
