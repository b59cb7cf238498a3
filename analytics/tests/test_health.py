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
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


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
