"""The tenant of a public request: the project of its browser key, within that project's origins."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from corsheaders.signals import check_request_enabled
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest

from analytics import ratelimit
from analytics.bots import is_bot
from analytics.errors import ApiError
from analytics.http import client_ip
from projects.origins import is_allowed_origin
from projects.selectors import KeyedProject, is_cached_project, is_well_formed_key, key_cache_key, project_for_key

# Counts, per client address, the requests whose well-formed key is unknown or revoked.
UNKNOWN_KEY_SCOPE = "unknown-key"


def _unknown_key() -> ApiError:
    return ApiError(401, "invalid_api_key", "apiKey is unknown or revoked.")


def _too_many_unknown_keys() -> ApiError:
    return ratelimit.too_many(
        limit=settings.UNKNOWN_KEY_RATE_LIMIT_PER_MIN,
        what="requests with unknown keys from this address",
        retry_after=ratelimit.seconds_left(),
    )


def authenticate_public(request: HttpRequest, payload: dict[str, Any], *, scope: str) -> KeyedProject:
    """The project of the body's apiKey, within its origins and the rate limit of `scope`.

    The limit counts requests per apiKey and client address (RATE_LIMIT_PER_MIN), known
    keys or not; refusals are checked in the order: key, origin, rate. Requests with an
    unknown or revoked key also count per address (UNKNOWN_KEY_RATE_LIMIT_PER_MIN, every
    endpoint together); past that, a key that the cache does not know as good is refused
    with 429 before it is looked up in the database.
    """
    api_key = payload.get("apiKey")
    if not isinstance(api_key, str) or not api_key:
        raise ApiError(401, "missing_api_key", "apiKey is required in the body.")
    if not is_well_formed_key(api_key):
        raise _unknown_key()
    address = client_ip(request)
    unknown_limit = settings.UNKNOWN_KEY_RATE_LIMIT_PER_MIN
    also_read = [key_cache_key(api_key)]
    if unknown_limit > 0:
        also_read.append(ratelimit.window_key(scope=UNKNOWN_KEY_SCOPE, identity=(address,)))
    # One Redis round trip: the request is counted, and the key's cached project and the
    # address's count of unknown keys are read together.
    decision = ratelimit.hit(
        scope=scope,
        identity=(api_key, address),
        limit=settings.RATE_LIMIT_PER_MIN,
        also_read=tuple(also_read),
    )
    cached, *unknown_count = decision.fetched
    over_limit = bool(unknown_count) and isinstance(unknown_count[0], int) and unknown_count[0] >= unknown_limit
    if over_limit and not is_cached_project(cached):
        raise _too_many_unknown_keys()
    project = project_for_key(key=api_key, cached=cached)
    if project is None:
        # Counted on the way out only: a known key's request never pays for this.
        counted = ratelimit.hit(scope=UNKNOWN_KEY_SCOPE, identity=(address,), limit=unknown_limit)
        if not counted.allowed:
            raise _too_many_unknown_keys()
        raise _unknown_key()
    check_origin(request, project.origins)
    if not decision.allowed:
        raise ratelimit.too_many(limit=settings.RATE_LIMIT_PER_MIN, what="requests", retry_after=decision.retry_after)
    return project


def check_origin(request: HttpRequest, origins: Collection[str]) -> str | None:
    """The request's Origin, refused unless it is one of the project's `origins`; None when
    it sends none (a server, curl: the credential in the request decides alone)."""
    origin = request.headers.get("Origin")
    if origin is not None and not is_allowed_origin(origin, origins):
        raise ApiError(403, "origin_not_allowed", f"Origin {origin[:200]!r} is not one of this project's origins.")
    return origin


def is_filtered_bot(request: HttpRequest, project: KeyedProject) -> bool:
    """Whether this request comes from a crawler, bot or headless browser that its project
    filters: it is then answered as usual but stores nothing (and is counted per hour)."""
    return project.filter_bots and is_bot(request.headers.get("User-Agent"))


@receiver(check_request_enabled)
def allow_cors_on_public_endpoints(sender: Any, request: HttpRequest, **kwargs: Any) -> bool:
    # Every answer of a public endpoint is readable by the page, errors included, so the
    # browser SDK can tell a refusal (drop the batch) from a network failure (retry it).
    # What gets stored is decided by the origin check above, not by CORS.
    return bool(re.match(settings.CORS_URLS_REGEX, request.path_info))
