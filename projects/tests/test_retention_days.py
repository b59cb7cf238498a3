"""A project's own retention: set, read and changed through the admin API and the Django
admin, each change written to the audit trail."""

import pytest
from django.contrib.auth.models import User

from projects.models import AuditEntry, Project

pytestmark = pytest.mark.django_db


def test_a_new_project_uses_the_global_retention_unless_given_its_own(admin_api):
    plain = admin_api.post("/v1/projects", {"name": "a"}, content_type="application/json")
    assert plain.status_code == 201
    assert plain.json()["retentionDays"] is None
    own = admin_api.post("/v1/projects", {"name": "b", "retentionDays": 30}, content_type="application/json")
    assert own.json()["retentionDays"] == 30
    assert Project.objects.get(pk=own.json()["id"]).retention_days == 30
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.details, str(entry.project_id)) == (
        "retention_change",
        {"from": None, "to": 30},
        own.json()["id"],
    )


def test_it_reads_and_changes_the_retention(tenant, admin_api):
    url = f"/v1/projects/{tenant.project.id}"
    assert admin_api.get(url).json()["retentionDays"] is None
    changed = admin_api.patch(url, {"retentionDays": 7}, content_type="application/json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["retentionDays"] == 7 and changed.json()["name"] == "shop"
    assert admin_api.get("/v1/projects").json()["projects"][0]["retentionDays"] == 7
    back = admin_api.patch(url, {"retentionDays": None}, content_type="application/json")
    assert back.json()["retentionDays"] is None
    renamed = admin_api.patch(url, {"name": "shop2"}, content_type="application/json")
    assert renamed.json()["retentionDays"] is None
    assert [entry.details for entry in AuditEntry.objects.order_by("at")] == [
        {"from": None, "to": 7},
        {"from": 7, "to": None},
    ]
    assert all(entry.actor.startswith("admin key ") for entry in AuditEntry.objects.all())


@pytest.mark.parametrize("value", [-1, 3651, 1.5, "30", True, [], {}])
def test_a_bad_retention_is_refused_and_nothing_changes(tenant, admin_api, value):
    response = admin_api.patch(
        f"/v1/projects/{tenant.project.id}", {"retentionDays": value}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == "retentionDays"
    tenant.project.refresh_from_db()
    assert tenant.project.retention_days is None
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("project_id", ["00000000-0000-0000-0000-000000000000", "nope"])
def test_an_unknown_project_is_404(admin_api, db, project_id):
    assert admin_api.get(f"/v1/projects/{project_id}").status_code == 404
    assert admin_api.patch(f"/v1/projects/{project_id}", {}, content_type="application/json").status_code == 404


def test_the_django_admin_sets_the_retention_and_it_is_audited(tenant, client):
    staff = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(staff)
    response = client.post(
        f"/admin/projects/project/{tenant.project.id}/change/",
        {
            "name": "shop",
            "origins_text": tenant.origin,
            "retention_days": "14",
            "keys-TOTAL_FORMS": "0",
            "keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    tenant.project.refresh_from_db()
    assert tenant.project.retention_days == 14
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.details) == ("staff boss", {"from": None, "to": 14})
    page = client.get("/admin/projects/auditentry/")
    assert page.status_code == 200 and b"retention_change" in page.content
    assert client.get(f"/admin/projects/auditentry/{entry.pk}/change/").status_code == 200
    assert client.post(f"/admin/projects/auditentry/{entry.pk}/delete/").status_code == 403
