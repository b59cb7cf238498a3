"""Middleware that keeps every /v1 answer within the contract: body cap, JSON errors."""

from __future__ import annotations

import io
import logging

from corsheaders.middleware import CorsMiddleware as BaseCorsMiddleware
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from analytics.errors import ApiError, DatabaseUnavailable

logger = logging.getLogger(__name__)

API_PREFIX = "/v1/"
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
READ_CHUNK = 64 * 1024


def _too_large(limit: int) -> HttpResponse:
    return ApiError(
        413,
        "body_too_large",
        f"The body is larger than MAX_BODY_BYTES ({limit} bytes); split the batch.",
    ).response()


class BodyLimitMiddleware:
    """Refuse a /v1 body over MAX_BODY_BYTES before anything parses it.

    Django only checks its own limit once the body is read, and a chunked body has no
    Content-Length at all (Django would see it as empty), so it is read here, bounded.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in BODY_METHODS and request.path.startswith(API_PREFIX):
            limit = settings.MAX_BODY_BYTES
            declared = request.META.get("CONTENT_LENGTH")
            if declared:
                try:
                    length = int(declared)
                except ValueError:
                    return ApiError(400, "invalid_content_length", "Content-Length is not a number.").response()
                if length > limit:
                    return _too_large(limit)
            elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
                body = self._read_bounded(request.META["wsgi.input"], limit)
                if body is None:
                    return _too_large(limit)
                request._body = body
                request._stream = io.BytesIO(body)
        return self.get_response(request)

    @staticmethod
    def _read_bounded(stream, limit: int) -> bytes | None:
        parts, size = [], 0
        while True:
            chunk = stream.read(READ_CHUNK)
            if not chunk:
                return b"".join(parts)
            size += len(chunk)
            if size > limit:
                return None
            parts.append(chunk)


class ApiErrorMiddleware:
    """Errors a /v1 view raised become the API's JSON error shape, never an HTML page."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ApiError):
            return exception.response()
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exception, DatabaseError):
            logger.error("database error on %s: %s", request.path, exception)
            return DatabaseUnavailable().response()
        logger.exception("unhandled error on %s", request.path)
        return ApiError(500, "internal_error", "Something went wrong on our side.").response()


class CorsMiddleware(BaseCorsMiddleware):
    """django-cors-headers, answering preflights with 204 No Content as the contract says."""

    def check_preflight(self, request: HttpRequest) -> HttpResponse | None:
        response = super().check_preflight(request)
        if response is not None:
            response.status_code = 204
        return response
