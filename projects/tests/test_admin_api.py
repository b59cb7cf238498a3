import json

import pytest
from django.core.cache import cache
from django.test import Client

from conftest import ADMIN_KEY
from projects.models import ApiKey, Project
from projects.selectors import key_cache_key, project_for_key

pytestmark = pytest.mark.django_db


def post_json(client: Client, url: str, body, **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json", **extra)


def error_code(response) -> str:
    assert response["Content-Type"] == "application/json"
    return response.json()["error"]["code"]


def test_it_creates_a_project_with_normalised_origins(admin_api):
    response = post_json(
        admin_api,
        "/v1/projects",
        {"name": "shop", "origins": ["HTTPS://Shop.Example:443", "http://x.test:8080"]},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "shop"
    assert body["origins"] == ["https://shop.example", "http://x.test:8080"]
    assert body["createdAt"].endswith("Z")
    assert Project.objects.get(pk=body["id"]).origins == body["origins"]


def test_it_lists_projects_with_their_keys(admin_api, tenant, revoked_key):
    response = admin_api.get("/v1/projects")
    assert response.status_code == 200
    [project] = response.json()["projects"]
    assert project["id"] == str(tenant.project.id)
    keys = {key["key"]: key for key in project["keys"]}
    assert keys[tenant.key]["revokedAt"] is None
    assert keys[tenant.key]["label"] == "web"
    assert keys[revoked_key]["revokedAt"].endswith("Z")


def test_it_mints_a_key(admin_api, tenant):
    response = post_json(admin_api, f"/v1/projects/{tenant.project.id}/keys", {"label": "app"})
    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith("ak_") and len(body["key"]) >= 27
    assert body["projectId"] == str(tenant.project.id)
    assert body["label"] == "app"
    assert project_for_key(key=body["key"]).id == tenant.project.id


def test_it_mints_a_key_without_a_body(admin_api, tenant):
    response = admin_api.post(f"/v1/projects/{tenant.project.id}/keys", data="", content_type="text/plain")
    assert response.status_code == 201
    assert response.json()["label"] == ""


def test_it_revokes_a_key_and_forgets_the_cached_lookup(admin_api, tenant, django_capture_on_commit_callbacks):
    assert project_for_key(key=tenant.key) is not None
    assert cache.get(key_cache_key(tenant.key)) is not None
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.delete(f"/v1/projects/{tenant.project.id}/keys/{tenant.key}")
    assert response.status_code == 204
    assert ApiKey.objects.get(key=tenant.key).revoked_at is not None
    assert cache.get(key_cache_key(tenant.key)) is None
    assert project_for_key(key=tenant.key) is None


def test_it_refuses_to_revoke_a_key_of_another_project(admin_api, tenant, other_tenant):
    response = admin_api.delete(f"/v1/projects/{tenant.project.id}/keys/{other_tenant.key}")
    assert response.status_code == 404
    assert error_code(response) == "key_not_found"
    assert ApiKey.objects.get(key=other_tenant.key).revoked_at is None


@pytest.mark.parametrize(
    ("headers", "configured"),
    [
        ({}, ADMIN_KEY),
        ({"x-admin-key": "wrong"}, ADMIN_KEY),
        ({"x-admin-key": ""}, ADMIN_KEY),
        ({"x-admin-key": "x"}, ""),
    ],
)
def test_it_refuses_a_missing_or_wrong_admin_key(settings, headers, configured):
    settings.ADMIN_API_KEY = configured
    client = Client(headers=headers)
    for response in (
        client.get("/v1/projects"),
        post_json(client, "/v1/projects", {"name": "x", "origins": []}),
    ):
        assert response.status_code == 401
        assert error_code(response) == "invalid_admin_key"
    assert Project.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ("{not json", "invalid_json", None),
        ("[1, 2]", "invalid_body", None),
        ('"shop"', "invalid_body", None),
        ({"name": 12, "origins": []}, "invalid_field", "name"),
        ({"name": "", "origins": []}, "invalid_field", "name"),
        ({"name": "   ", "origins": []}, "invalid_field", "name"),
        ({"origins": []}, "invalid_field", "name"),
        ({"name": "x" * 201, "origins": []}, "invalid_field", "name"),
        ({"name": "shop", "origins": "https://a.test"}, "invalid_field", "origins"),
        ({"name": "shop", "origins": [5]}, "invalid_field", "origins"),
        ({"name": "shop", "origins": ["a.test"]}, "invalid_field", "origins"),
        ({"name": "shop", "origins": ["https://a.test/path"]}, "invalid_field", "origins"),
        ({"name": "shop", "origins": ["https://a.test:99999"]}, "invalid_field", "origins"),
        ({"name": "sh\u0000op", "origins": []}, "invalid_field", "name"),
    ],
)
def test_it_refuses_a_bad_project_body(admin_api, body, code, field):
    response = post_json(admin_api, "/v1/projects", body)
    assert response.status_code == 400
    assert error_code(response) == code
    assert response.json()["error"]["message"]
    if field:
        assert response.json()["error"]["details"]["field"] == field
    assert Project.objects.count() == 0


@pytest.mark.parametrize("project_id", ["0b7a1b6e-5c44-4d7e-9a56-9d1f3f0c1a2b", "not-a-uuid", "123"])
def test_it_answers_404_for_an_unknown_project(admin_api, tenant, project_id):
    response = post_json(admin_api, f"/v1/projects/{project_id}/keys", {"label": "x"})
    assert response.status_code == 404
    assert error_code(response) == "project_not_found"
    assert ApiKey.objects.count() == 1


def test_it_refuses_a_label_that_is_not_text(admin_api, tenant):
    response = post_json(admin_api, f"/v1/projects/{tenant.project.id}/keys", {"label": ["a"]})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == "label"
    assert ApiKey.objects.count() == 1


def test_it_answers_unknown_api_paths_and_methods_in_json(admin_api):
    missing = admin_api.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert error_code(missing) == "not_found"
    wrong_method = admin_api.put("/v1/projects")
    assert wrong_method.status_code == 405
    assert error_code(wrong_method) == "method_not_allowed"
