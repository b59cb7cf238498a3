"""A fixed-window request counter: one atomic round trip to Redis, failing open.

The same round trip can read one cache entry (the public endpoints' key lookup), so that a
public request costs a single call to Redis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from analytics.degraded import CACHE_ERRORS, UNREACHABLE, fail_open, record
from analytics.http import fingerprint


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0
    # The entry read along (see `hit`): None when not cached, UNREACHABLE when Redis is down.
    fetched: Any = None


def _count_and_read(key: str, ttl: int, read_key: str | None) -> tuple[int, Any]:
    client_for = getattr(getattr(cache, "client", None), "get_client", None)
    if client_for is not None:
        # django-redis: INCR and EXPIRE in one MULTI, so the counter never lives without a TTL.
        pipe = client_for(write=True).pipeline(transaction=True)
        full_key = cache.make_key(key)
        pipe.incr(full_key)
        pipe.expire(full_key, ttl)
        if read_key is not None:
            pipe.get(cache.make_key(read_key))
        count, _expired, *read = pipe.execute()
        fetched = cache.client.decode(read[0]) if read and read[0] is not None else None
        return int(count), fetched
    fetched = cache.get(read_key) if read_key is not None else None
    cache.add(key, 0, timeout=ttl)
    try:
        return cache.incr(key), fetched
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=ttl)
        return 1, fetched


def hit(
    *, scope: str, identity: tuple[str, ...], limit: int, window_s: int = 60, also_read: str | None = None
) -> RateDecision:
    """Count one request of `identity` in the current window and say whether it may pass.

    With `also_read`, the cache entry under that key comes back in `fetched`, read in the
    same round trip as the count.
    """
    if limit <= 0:
        fetched = None if also_read is None else fail_open("keyCache", UNREACHABLE, cache.get, also_read)
        return RateDecision(True, fetched=fetched)
    now = time.time()
    window = int(now // window_s)
    key = f"rl:{scope}:{fingerprint(*identity)}:{window}"
    try:
        count, fetched = _count_and_read(key, window_s + 1, also_read)
    except CACHE_ERRORS as exc:
        # Without Redis the request passes: the limiter must never take ingest down with it.
        record("rateLimit", exc)
        if also_read is not None:
            record("keyCache", exc)
        count, fetched = 0, UNREACHABLE
    if count > limit:
        return RateDecision(False, retry_after=max(1, int((window + 1) * window_s - now)), fetched=fetched)
    return RateDecision(True, fetched=fetched)
