"""The one error shape of the API: {"error": {"code", "message", "details"?}}."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from django.http import Http404, HttpResponse
from rest_framework import exceptions as drf_exceptions

from analytics.serializers import ErrorSerializer

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered to the client as JSON with the given status and code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def response(self) -> HttpResponse:
        return HttpResponse(
            orjson.dumps(ErrorSerializer.render(self), option=orjson.OPT_NON_STR_KEYS),
            status=self.status,
            headers=self.headers,
            content_type="application/json",
        )


class DatabaseUnavailable(ApiError):
    def __init__(self) -> None:
        super().__init__(
            503,
            "database_unavailable",
            "The database is unreachable; retry later.",
            headers={"Retry-After": "5"},
        )


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, code, message)


def invalid_field(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_field", f"{field}: {message}", details={"field": field})


def _from_drf(exc: drf_exceptions.APIException) -> ApiError:
    if isinstance(exc, drf_exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        first_field = next(iter(detail), "body")
        first = detail[first_field]
        while isinstance(first, (list, dict)) and first:
            first = first[0] if isinstance(first, list) else next(iter(first.values()))
        return ApiError(
            400,
            "invalid_field",
            f"{first_field}: {first}",
            details={"field": first_field, "errors": exc.get_full_details()},
        )
    codes = {
        drf_exceptions.NotAuthenticated: "unauthorized",
        drf_exceptions.AuthenticationFailed: "unauthorized",
        drf_exceptions.MethodNotAllowed: "method_not_allowed",
        drf_exceptions.NotFound: "not_found",
    }
    code = codes.get(type(exc), str(exc.default_code))
    headers = {}
    if isinstance(exc, drf_exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait))
    return ApiError(exc.status_code, code, str(exc.detail), headers=headers)


def drf_exception_handler(exc: Exception, context: dict) -> Any:
    """DRF's exception handler: every API error leaves in the one shape."""
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    if isinstance(exc, drf_exceptions.APIException):
        exc = _from_drf(exc)
    if isinstance(exc, ApiError):
        return exc.response()
    # Anything else (database down, a bug) goes on to ApiErrorMiddleware.
    return None
