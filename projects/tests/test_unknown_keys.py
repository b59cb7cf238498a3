"""Requests with unknown keys count against a per-address limit: guessing keys costs the
guesser 429s, not the service a database lookup each."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from analytics import degraded, ratelimit
from analytics.errors import ApiError
from projects.auth import UNKNOWN_KEY_SCOPE, authenticate_public

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.UNKNOWN_KEY_RATE_LIMIT_PER_MIN = LIMIT
    settings.RATE_LIMIT_PER_MIN = 1000


def guess(n: int) -> str:
    return f"ak_guess{n:026d}"


def authenticate(key: str, *, address: str = "192.0.2.1", scope: str = "ingest"):
    request = RequestFactory().post("/v1/ingest", REMOTE_ADDR=address)
    return authenticate_public(request, {"apiKey": key}, scope=scope)


def refusal(key: str, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as refused:
        authenticate(key, **kwargs)
    return refused.value


def test_unknown_keys_past_the_limit_are_refused_with_429_and_no_lookup():
    assert [refusal(guess(n)).status for n in range(LIMIT)] == [401] * LIMIT
    with CaptureQueriesContext(connection) as queries:
        limited = refusal(guess(LIMIT))
    assert limited.status == 429
    assert limited.code == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert len(queries) == 0


def test_a_repeated_unknown_key_counts_too():
    assert [refusal(guess(0)).status for _ in range(LIMIT + 2)] == [401] * LIMIT + [429] * 2


def test_revoked_keys_count_as_unknown(revoked_key):
    assert [refusal(revoked_key).status for _ in range(LIMIT + 1)] == [401] * LIMIT + [429]


def test_the_limit_is_per_address_across_endpoints():
    scopes = ["ingest", "assign", "convert", "ingest"]
    assert [refusal(guess(n), scope=scope).status for n, scope in enumerate(scopes)] == [401] * LIMIT + [429]
    assert refusal(guess(9), address="192.0.2.2").status == 401


def test_a_known_key_still_passes_from_an_address_over_the_limit(tenant):
    authenticate(tenant.key)  # the key's project is cached
    for n in range(LIMIT + 1):
        refusal(guess(n))
    assert authenticate(tenant.key).id == tenant.project.id


def test_unknown_keys_are_counted_by_the_address_behind_a_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]

    def via_proxy(key: str, client: str) -> int:
        request = RequestFactory().post("/v1/ingest", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=client)
        with pytest.raises(ApiError) as refused:
            authenticate_public(request, {"apiKey": key}, scope="ingest")
        return refused.value.status

    assert [via_proxy(guess(n), "198.51.100.1") for n in range(LIMIT + 1)] == [401] * LIMIT + [429]
    assert via_proxy(guess(9), "198.51.100.2") == 401


def test_the_counter_holds_no_address_in_clear():
    for n in range(LIMIT):
        refusal(guess(n))
    if hasattr(cache, "client"):
        names = [name.decode() for name in cache.client.get_client().keys("*")]
    else:
        names = list(cache._cache)
    assert names and not any("192.0.2.1" in name for name in names)


def test_the_counters_name_is_keyed_so_trying_every_address_does_not_find_it(settings):
    name = ratelimit.window_key(scope=UNKNOWN_KEY_SCOPE, identity=("192.0.2.1",), now=0)
    settings.SECRET_KEY = "another-secret-" + "s" * 50
    assert ratelimit.window_key(scope=UNKNOWN_KEY_SCOPE, identity=("192.0.2.1",), now=0) != name


def test_it_fails_open_without_redis(monkeypatch):
    def unreachable(*args, **kwargs):
        raise ConnectionError("redis is gone")

    monkeypatch.setattr("analytics.ratelimit._count_and_read", unreachable)
    before = degraded.counts()["rateLimit"]
    assert [refusal(guess(n)).status for n in range(LIMIT + 2)] == [401] * (LIMIT + 2)
    assert degraded.counts()["rateLimit"] > before


def test_zero_turns_the_limit_off(settings):
    settings.UNKNOWN_KEY_RATE_LIMIT_PER_MIN = 0
    assert {refusal(guess(n)).status for n in range(LIMIT + 2)} == {401}
