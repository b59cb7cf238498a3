"""Guessing keys against /v1/ingest: a per-address limit, answered 429 without a lookup."""

import pytest
from django.core.cache import cache

from ingest.models import Event, Session
from ingest.tests.conftest import make_batch

pytestmark = pytest.mark.django_db


def test_unknown_keys_from_one_address_get_429_with_retry_after(send, tenant, settings, django_assert_num_queries):
    settings.UNKNOWN_KEY_RATE_LIMIT_PER_MIN = 2
    assert send(make_batch(tenant.key)).status_code == 202  # its project is now cached
    assert [send(make_batch(f"ak_guess{n:026d}")).status_code for n in range(2)] == [401, 401]
    with django_assert_num_queries(0):
        limited = send(make_batch("ak_guess" + "9" * 26))
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert send(make_batch("ak_guess" + "8" * 26), REMOTE_ADDR="10.1.1.1").status_code == 401
    assert send(make_batch(tenant.key)).status_code == 202
    assert Session.objects.count() == 2
    assert Event.objects.exclude(project=tenant.project).count() == 0


@pytest.mark.skipif(not hasattr(cache, "client"), reason="counts calls to a real Redis: needs redis-server installed")
def test_a_limited_guess_costs_one_redis_round_trip_and_no_query(send, settings, monkeypatch, db):
    from redis.client import Pipeline, Redis

    settings.UNKNOWN_KEY_RATE_LIMIT_PER_MIN = 1
    send(make_batch("ak_guess" + "0" * 26))
    calls = []
    real_command, real_pipeline = Redis.execute_command, Pipeline.execute
    monkeypatch.setattr(Redis, "execute_command", lambda *a, **k: calls.append("command") or real_command(*a, **k))
    monkeypatch.setattr(Pipeline, "execute", lambda *a, **k: calls.append("pipeline") or real_pipeline(*a, **k))
    assert send(make_batch("ak_guess" + "1" * 26)).status_code == 429
    assert calls == ["pipeline"]
