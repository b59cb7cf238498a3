"""A fixed-window request counter: one atomic round trip to Redis, failing open."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache

from analytics.degraded import fail_open
from analytics.http import fingerprint


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0


def _increment(key: str, ttl: int) -> int:
    client_for = getattr(getattr(cache, "client", None), "get_client", None)
    if client_for is not None:
        # django-redis: INCR and EXPIRE in one MULTI, so the counter never lives without a TTL.
        pipe = client_for(write=True).pipeline(transaction=True)
        full_key = cache.make_key(key)
        pipe.incr(full_key)
        pipe.expire(full_key, ttl)
        count, _ = pipe.execute()
        return int(count)
    cache.add(key, 0, timeout=ttl)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=ttl)
        return 1


def hit(*, scope: str, identity: tuple[str, ...], limit: int, window_s: int = 60) -> RateDecision:
    """Count one request of `identity` in the current window and say whether it may pass."""
    if limit <= 0:
        return RateDecision(True)
    now = time.time()
    window = int(now // window_s)
    key = f"rl:{scope}:{fingerprint(*identity)}:{window}"
    # Without Redis the request passes (count 0): the limiter must never take ingest down with it.
    count = fail_open("rateLimit", 0, _increment, key, window_s + 1)
    if count > limit:
        return RateDecision(False, retry_after=max(1, int((window + 1) * window_s - now)))
    return RateDecision(True)
