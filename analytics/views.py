import logging

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.views import defaults

from analytics import degraded
from analytics.errors import ApiError
from analytics.http import json_response, plain_api_view
from analytics.serializers import HealthSerializer

logger = logging.getLogger(__name__)

HEALTH_PROBE_KEY = "health:probe"


def _database_is_up() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError as exc:
        logger.warning("health: database check failed: %s", exc)
        return False


def _cache_is_up() -> bool:
    # The Redis cache swallows connection errors (fail open), so a round trip proves it.
    try:
        cache.set(HEALTH_PROBE_KEY, "ok", timeout=10)
        return cache.get(HEALTH_PROBE_KEY) == "ok"
    except Exception as exc:
        logger.warning("health: cache check failed: %s", exc)
        return False


@plain_api_view("GET")
def health(request: HttpRequest) -> HttpResponse:
    if request.GET.get("deep") not in ("1", "true"):
        return json_response(HealthSerializer.render({}))
    checks = {"database": _database_is_up(), "cache": _cache_is_up()}
    down = [name for name, up in checks.items() if not up]
    fail_open = degraded.counts()
    if down:
        raise ApiError(
            503,
            "dependency_down",
            f"Down: {', '.join(down)}.",
            details={"down": down, "failOpen": fail_open},
            headers={"Retry-After": "5"},
        )
    return json_response(HealthSerializer.render({"checks": checks, "failOpen": fail_open}))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/v1/"):
        return ApiError(404, "not_found", f"No endpoint at {request.path}.").response()
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/v1/"):
        return ApiError(500, "internal_error", "Something went wrong on our side.").response()
    return defaults.server_error(request)
