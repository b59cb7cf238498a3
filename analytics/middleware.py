"""Middleware that keeps every /v1 answer within the contract: body cap, JSON errors."""

from __future__ import annotations

import io
import logging

from corsheaders.middleware import CorsMiddleware as BaseCorsMiddleware
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.core.exceptions import BadRequest, DisallowedHost, PermissionDenied, SuspiciousOperation
from django.db import DatabaseError, DataError, IntegrityError, InterfaceError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.log import log_response

from analytics.errors import ApiError, DatabaseUnavailable

logger = logging.getLogger(__name__)

API_PREFIX = "/v1/"
# Answered as the API is (JSON errors, the body cap): /v1 and the heatmap overlay's endpoints,
# which the pages of projects' sites call.
MACHINE_PREFIXES = (API_PREFIX, "/overlay/")
# The documents under /v1; every other answer there is JSON.
API_PAGES = ("/v1/docs", "/v1/sdk.js")
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
READ_CHUNK = 64 * 1024
# Raised for the client's mistakes: Django answers them with their 4xx status (and
# JsonAnswersMiddleware makes that answer JSON under /v1); they are not 500s.
CLIENT_ERRORS = (Http404, PermissionDenied, SuspiciousOperation, BadRequest, MultiPartParserError)
# For the answers Django writes itself; anything else keeps its status with a generic code.
CODES = {
    400: ("bad_request", "The request is malformed."),
    403: ("forbidden", "This request is not allowed."),
    404: ("not_found", "No endpoint at this path."),
    405: ("method_not_allowed", "This endpoint does not take that method."),
    412: ("precondition_failed", "A precondition of the request failed."),
    413: ("body_too_large", "The body is too large."),
    500: ("internal_error", "Something went wrong on our side."),
}


class JsonAnswersMiddleware:
    """Every answer under /v1 (and /overlay/) is the API's JSON, including those Django writes itself.

    Outermost, so that it sees what no view sees: a Host that is not in ALLOWED_HOSTS (which
    Django answers with an HTML 400 and logs with a traceback, once per request), a CSRF
    failure, the error pages of DEBUG, errors raised in other middleware.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(MACHINE_PREFIXES):
            return self.get_response(request)
        try:
            request.get_host()
        except DisallowedHost as exc:
            response = ApiError(400, "bad_host", "The Host header names no host this service answers to.").response()
            # Scanners send these all day: one line each (log_response keeps Django from
            # adding its own "Bad Request" line), the Host quoted by Django's message.
            log_response("bad Host on %s: %s", request.path, exc, response=response, request=request, logger=logger)
            return response
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and not response.streaming
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            self._as_json(response)
        return response

    @staticmethod
    def _as_json(response: HttpResponse) -> None:
        # Rewritten in place, so that the headers set on the way out (CORS, Allow, the
        # security headers) stay.
        code, message = CODES.get(response.status_code, (f"http_{response.status_code}", response.reason_phrase))
        response.content = ApiError(response.status_code, code, message).response().content
        response["Content-Type"] = "application/json"
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))


def _too_large(limit: int) -> HttpResponse:
    return ApiError(
        413,
        "body_too_large",
        f"The body is larger than MAX_BODY_BYTES ({limit} bytes); split the batch.",
    ).response()


class BodyLimitMiddleware:
    """Refuse a /v1 (or /overlay/) body over MAX_BODY_BYTES before anything parses it.

    Django only checks its own limit once the body is read, and a chunked body has no
    Content-Length at all (Django would see it as empty), so it is read here, bounded.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in BODY_METHODS and request.path.startswith(MACHINE_PREFIXES):
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
        if not request.path.startswith(MACHINE_PREFIXES) or isinstance(exception, CLIENT_ERRORS):
            return None
        # A value or constraint the database refused is input that should have been refused
        # earlier: a bug, answered as one, not a 503 that has the client retry it forever.
        # Anything else (a lost connection, a table missing mid-deploy) is worth a retry;
        # InterfaceError (a connection already closed) is no DatabaseError in DB-API terms.
        if isinstance(exception, (DatabaseError, InterfaceError)) and not isinstance(
            exception, (DataError, IntegrityError)
        ):
            logger.error("database unavailable on %s: %s", request.path, exception)
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


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy (CONTENT_SECURITY_POLICY) on every page, the admin's and /v1/docs,
    and on the SDK; not on the JSON answers, which no browser renders (nosniff) and whose
    path is the hot one: the policy is built anew for every answer it goes on."""

    def process_request(self, request: HttpRequest) -> None:
        if _is_json_api(request.path):
            return None
        return super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if _is_json_api(request.path):
            return response
        return super().process_response(request, response)


def _is_json_api(path: str) -> bool:
    return path.startswith(API_PREFIX) and path not in API_PAGES
