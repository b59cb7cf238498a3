"""Failing open without Redis: counted, logged once per interval, and never a failed request."""

import logging

import pytest
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError

from analytics import degraded
from projects import services
from projects.models import ApiKey
from projects.selectors import project_for_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_counters(monkeypatch):
    monkeypatch.setattr(degraded, "_counts", dict.fromkeys(degraded.KINDS, 0))
    monkeypatch.setattr(degraded, "_logged_at", {})


def unreachable(*args, **kwargs):
    raise ConnectionInterrupted(connection=None, parent=RedisConnectionError("Connection refused"))


def test_it_counts_every_request_let_through_and_logs_once_per_interval(fresh_counters, caplog):
    with caplog.at_level(logging.WARNING, logger="analytics.degraded"):
        answers = [degraded.fail_open("rateLimit", 0, unreachable) for _ in range(5)]
    assert answers == [0] * 5
    assert degraded.counts() == {"rateLimit": 5, "keyCache": 0}
    [warning] = caplog.records
    assert "failing open (rateLimit, 1 so far" in warning.getMessage()


def test_it_lets_other_errors_through():
    def bug():
        raise KeyError("not a Redis problem")

    with pytest.raises(KeyError):
        degraded.fail_open("rateLimit", 0, bug)


def test_a_key_is_looked_up_in_the_database_when_the_cache_is_down(tenant, fresh_counters, monkeypatch):
    monkeypatch.setattr("django.core.cache.cache.get", unreachable)
    monkeypatch.setattr("django.core.cache.cache.set", unreachable)
    assert project_for_key(key=tenant.key).id == tenant.project.id
    assert project_for_key(key="ak_" + "u" * 32) is None
    assert degraded.counts()["keyCache"] == 2  # one per lookup: no second round trip once Redis failed


def test_a_key_is_still_revoked_when_the_cache_is_down(tenant, monkeypatch, caplog, django_capture_on_commit_callbacks):
    monkeypatch.setattr("django.core.cache.cache.delete_many", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_key_by_value(key=tenant.key)
    assert ApiKey.objects.get(key=tenant.key).revoked_at is not None
    assert "could not drop 1 cached key lookup(s)" in caplog.text
