import logging

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.views import defaults
from django.views.decorators.http import require_safe

from analytics import degraded
from analytics.errors import ApiError
from analytics.http import json_response, plain_api_view
from analytics.serializers import HealthSerializer

logger = logging.getLogger(__name__)

HEALTH_PROBE_KEY = "health:probe"

# No styles or scripts of its own, so that any Content-Security-Policy leaves it as it is.
HOME_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>analytics</title></head>
<body>
<h1>analytics</h1>
<p>This host runs a web-analytics service. Websites that load its browser script send it page
views, custom events and pointer movement, and run A/B experiments through it. There is
nothing here for visitors.</p>
<p>Staff: <a href="{admin}">sign in to the admin</a> for projects, keys, dashboards and experiment
results. Developers: <a href="{docs}">the API reference</a>.</p>
</body>
</html>
"""


def _database_is_up() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError as exc:
        logger.warning("health: database check failed: %s", exc)
        return False


def _cache_is_up() -> bool:
    # A write and a read: errors reach here (IGNORE_EXCEPTIONS is off), and a cache that answers
    # without keeping what it is given is as good as down.
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


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """What the service is, for whoever opens its address (the admin's "View site" link too);
    staff who are signed in go straight to their projects."""
    user = request.user
    if user.is_active and user.is_staff:
        if user.has_perm("projects.view_project"):
            return redirect("admin:projects_project_changelist")
        return redirect("admin:index")
    return HttpResponse(format_html(HOME_PAGE, admin=reverse("admin:index"), docs=reverse("docs")))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/v1/"):
        return ApiError(404, "not_found", f"No endpoint at {request.path}.").response()
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/v1/"):
        return ApiError(500, "internal_error", "Something went wrong on our side.").response()
    return defaults.server_error(request)
