"""Small HTTP helpers shared by the DRF views and the plain ingest view."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from analytics.errors import ApiError
from analytics.json_numbers import parse_json


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(orjson.dumps(data), status=status, headers=headers, content_type="application/json")


def plain_api_view(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """For the /v1 views that skip DRF: only `methods` reach the view, OPTIONS is answered 204
    (CORS preflights are answered earlier, by the CORS middleware), anything else is a JSON 405.

    CSRF does not apply: these views read no cookie; the public ones authenticate with the
    apiKey in the body.
    """
    allow = ", ".join([*methods, "OPTIONS"])

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "OPTIONS":
                return HttpResponse(status=204, headers={"Allow": allow})
            if request.method not in methods:
                raise ApiError(405, "method_not_allowed", f"Use {' or '.join(methods)}.", headers={"Allow": allow})
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def read_json_object(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object, whatever the Content-Type says (sendBeacon sends text/plain).

    orjson refuses NaN, Infinity and invalid UTF-8; a number that cannot be read exactly is
    marked for the field checks to refuse (analytics/json_numbers.py).
    """
    try:
        data = parse_json(request.body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.")
    return data


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, the API's timestamp format."""
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


def client_ip(request: HttpRequest) -> str:
    """The client's address, trusting X-Forwarded-For only as far as TRUSTED_PROXIES go."""
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = settings.TRUSTED_PROXIES
    if remote not in trusted:
        return remote
    forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed(forwarded):
        if hop and hop not in trusted:
            return hop
    return remote


def fingerprint(*parts: str) -> str:
    """A short one-way digest, for names that must not hold keys in clear (addresses: address_digest)."""
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()


@functools.cache
def _secret_key_for_digests(secret: str) -> bytes:
    return hashlib.blake2b(secret.encode(), digest_size=32, person=b"address-digest").digest()


def address_digest(*parts: str) -> str:
    """`fingerprint` keyed with SECRET_KEY, for what holds a client address: an IPv4 address has
    only 2**32 values, and an unkeyed digest of one is undone by trying them all. Only for
    short-lived names (counters): a new SECRET_KEY gives new digests."""
    key = _secret_key_for_digests(settings.SECRET_KEY)
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12, key=key).hexdigest()
