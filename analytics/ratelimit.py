"""A fixed-window request counter: one atomic round trip to Redis, failing open.

The same round trip can read cache entries (the public endpoints' key lookup and their
count of unknown keys), so that a public request costs a single call to Redis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache

from analytics.degraded import CACHE_ERRORS, UNREACHABLE, fail_open, record
from analytics.errors import ApiError
from analytics.http import address_digest


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0
    # The entries read along (see `hit`), in order: None when not cached, UNREACHABLE when
    # Redis is down.
    fetched: tuple = ()


def too_many(*, limit: int, what: str, retry_after: int) -> ApiError:
    """The 429 of a request past its limit of `limit` `what` in a minute."""
    return ApiError(
        429,
        "rate_limited",
        f"More than {limit} {what} in a minute; retry later.",
        headers={"Retry-After": str(retry_after)},
    )


def window_key(*, scope: str, identity: tuple[str, ...], window_s: int = 60, now: float | None = None) -> str:
    """The cache key of `identity`'s counter in the current window (a keyed digest: no key or
    address in clear, nor one that trying every address would reveal)."""
    now = time.time() if now is None else now
    return f"rl:{scope}:{address_digest(*identity)}:{int(now // window_s)}"


def seconds_left(*, window_s: int = 60, now: float | None = None) -> int:
    """Until the current window ends: what a refusal's Retry-After says."""
    now = time.time() if now is None else now
    return max(1, int((int(now // window_s) + 1) * window_s - now))


def _count_and_read(key: str, ttl: int, read_keys: tuple[str, ...]) -> tuple[int, tuple]:
    client_for = getattr(getattr(cache, "client", None), "get_client", None)
    if client_for is not None:
        # django-redis: INCR and EXPIRE in one MULTI, so the counter never lives without a TTL.
        pipe = client_for(write=True).pipeline(transaction=True)
        full_key = cache.make_key(key)
        pipe.incr(full_key)
        pipe.expire(full_key, ttl)
        for read_key in read_keys:
            pipe.get(cache.make_key(read_key))
        count, _expired, *read = pipe.execute()
        return int(count), tuple(None if value is None else cache.client.decode(value) for value in read)
    fetched = tuple(cache.get(read_key) for read_key in read_keys)
    cache.add(key, 0, timeout=ttl)
    try:
        return cache.incr(key), fetched
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=ttl)
        return 1, fetched


def _read(read_keys: tuple[str, ...]) -> tuple:
    found = cache.get_many(read_keys)
    return tuple(found.get(read_key) for read_key in read_keys)


def hit(
    *, scope: str, identity: tuple[str, ...], limit: int, window_s: int = 60, also_read: tuple[str, ...] = ()
) -> RateDecision:
    """Count one request of `identity` in the current window and say whether it may pass.

    The cache entries under the keys of `also_read` come back in `fetched`, read in the same
    round trip as the count.
    """
    if limit <= 0:
        unreachable = (UNREACHABLE,) * len(also_read)
        fetched = fail_open("keyCache", unreachable, _read, also_read) if also_read else ()
        return RateDecision(True, fetched=fetched)
    now = time.time()
    key = window_key(scope=scope, identity=identity, window_s=window_s, now=now)
    try:
        count, fetched = _count_and_read(key, window_s + 1, also_read)
    except CACHE_ERRORS as exc:
        # Without Redis the request passes: the limiter must never take ingest down with it.
        record("rateLimit", exc)
        if also_read:
            record("keyCache", exc)
        count, fetched = 0, (UNREACHABLE,) * len(also_read)
    if count > limit:
        return RateDecision(False, retry_after=seconds_left(window_s=window_s, now=now), fetched=fetched)
    return RateDecision(True, fetched=fetched)
