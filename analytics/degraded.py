"""Failing open: what this process did without Redis, counted and logged.

Redis holds only the key cache and the rate-limit counters, so when it is unreachable the
service keeps answering: keys are looked up in the database and requests are not limited.
Each such request is counted (readable in GET /v1/health?deep=1) and logged, at most once
every LOG_EVERY_S per kind so that an outage under load does not flood the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")
LOG_EVERY_S = 10.0
KINDS = ("rateLimit", "keyCache")
CACHE_ERRORS = (RedisError, ConnectionInterrupted, OSError)
# What a read gets when Redis cannot be reached (None is a plain cache miss).
UNREACHABLE = object()

_lock = threading.Lock()
_counts = dict.fromkeys(KINDS, 0)
_logged_at: dict[str, float] = {}


def record(kind: str, exc: BaseException) -> None:
    """Count one operation done without Redis; log the first and then one every LOG_EVERY_S."""
    now = time.monotonic()
    with _lock:
        _counts[kind] += 1
        count = _counts[kind]
        due = now - _logged_at.get(kind, -LOG_EVERY_S) >= LOG_EVERY_S
        if due:
            _logged_at[kind] = now
    if due:
        logger.warning("redis unavailable, failing open (%s, %d so far in this process): %s", kind, count, exc)


def fail_open(kind: str, default: T, call: Callable[..., T], *args, **kwargs) -> T:
    """`call(*args, **kwargs)`, or `default` (counted and logged) when Redis cannot be reached."""
    try:
        return call(*args, **kwargs)
    except CACHE_ERRORS as exc:
        record(kind, exc)
        return default


def counts() -> dict[str, int]:
    with _lock:
        return dict(_counts)
