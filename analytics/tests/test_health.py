import pytest
from django.db import DatabaseError

pytestmark = pytest.mark.django_db


def test_it_answers_liveness_without_auth(client):
    response = client.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_checks_database_and_cache_when_deep(client):
    response = client.get("/v1/health?deep=1")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["checks"]) == ("ok", {"database": "ok", "cache": "ok"})
    assert set(body["failOpen"]) == {"rateLimit", "keyCache"}


def test_it_names_the_database_when_it_is_down(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr("django.db.backends.utils.CursorWrapper.execute", refuse)
    response = client.get("/v1/health?deep=1")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    error = response.json()["error"]
    assert error["code"] == "dependency_down"
    assert error["details"]["down"] == ["database"]


def test_it_names_the_cache_when_it_is_down(client, monkeypatch):
    monkeypatch.setattr("django.core.cache.cache.get", lambda *args, **kwargs: None)
    response = client.get("/v1/health?deep=1")
    assert response.status_code == 503
    assert response.json()["error"]["details"]["down"] == ["cache"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "QUERY"])
def test_it_answers_other_methods_with_a_json_405_not_a_csrf_page(method):
    # Found by fuzzing: an unsafe method reached Django's CSRF check, which answered an HTML 403.
    from django.test import Client

    response = Client(enforce_csrf_checks=True).generic(method, "/v1/health")
    assert response.status_code == 405
    assert response["Allow"] == "GET, OPTIONS"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_deep_health_reports_what_was_let_through_without_redis(client, monkeypatch):
    from analytics import degraded

    monkeypatch.setitem(degraded._counts, "rateLimit", 7)
    assert client.get("/v1/health?deep=1").json()["failOpen"]["rateLimit"] == 7
