"""The heatmap overlay's two endpoints, outside /v1 (they are no part of the API contract):

- GET /overlay/heatmap.js: the overlay script, which the SDK imports when the page's URL
  fragment holds a heatmap token;
- POST /overlay/heatmap: a page's bins and scroll depth for a token, in the shape of
  GET /v1/projects/:id/heatmap. The body is JSON sent as text/plain, like the SDK's batches:
  no CORS preflight, and the token stays out of URLs and so out of access logs.

Only the project's own origins may read the answers (CORS), errors included, so the
overlay can say why it has nothing to draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import conditional_page

from analytics import ratelimit
from analytics.errors import ApiError, invalid_field
from analytics.http import client_ip, json_response, plain_api_view, read_json_object
from analytics.scripts import ScriptFile
from insights import heatmaps
from insights.heatmap_png import STOPS
from insights.overlay import check_overlay_grant, parse_days, unsign_overlay_token
from insights.serializers import HeatmapSerializer
from insights.time_ranges import last_days
from projects.auth import check_origin
from projects.models import Project
from projects.selectors import get_project

SCRIPT = ScriptFile.read(Path(__file__).resolve().parent / "overlay" / "heatmap.js")
# Not versioned: a new overlay reaches staff within minutes of a deploy.
SCRIPT_CACHE = "public, max-age=300"


@plain_api_view("GET", "HEAD")
@conditional_page
def overlay_script(request: HttpRequest) -> HttpResponse:
    return SCRIPT.response(
        request,
        headers={
            "Cache-Control": SCRIPT_CACHE,
            # The SDK loads it with import(), and a module script from another origin is
            # fetched with CORS; it is public code, read by no credential.
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )


def _cors_headers(request: HttpRequest, project: Project) -> dict[str, str]:
    """CORS for the project's own origins; another origin is refused outright."""
    origin = check_origin(request, project.origins)
    return {} if origin is None else {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _text(payload: dict[str, Any], field: str) -> str | None:
    value = payload.get(field)
    if value is not None and not isinstance(value, str):
        raise invalid_field(field, "must be a string.")
    return value


# Per client address, the public endpoints' limit: every toolbar click of the overlay is a
# request, and each reads a page's heatmap and scroll depth.
RATE_SCOPE = "overlay"


def _check_rate(request: HttpRequest) -> None:
    limit = settings.RATE_LIMIT_PER_MIN
    decision = ratelimit.hit(scope=RATE_SCOPE, identity=(client_ip(request),), limit=limit)
    if not decision.allowed:
        raise ratelimit.too_many(limit=limit, what="heatmap requests", retry_after=decision.retry_after)


@plain_api_view("POST")
def overlay_heatmap(request: HttpRequest) -> HttpResponse:
    payload = read_json_object(request)
    grant = unsign_overlay_token(token=payload.get("token"))
    project = get_project(project_id=str(grant.project_id))
    cors = _cors_headers(request, project)
    now = timezone.now()
    try:
        _check_rate(request)
        path = heatmaps.parse_path(_text(payload, "path"))
        check_overlay_grant(grant=grant, project_id=payload.get("project"), path=path, now=now)
        kind = heatmaps.parse_kind(_text(payload, "kind"))
        # As the admin's presets: the last N days of the project's zone, today included.
        time_range = last_days(days=parse_days(payload.get("days")), now=now, time_zone=project.time_zone)
    except ApiError as exc:
        exc.headers.update(cors)
        raise
    heatmap = heatmaps.movement_heatmap(project_id=project.id, path=path, kind=kind, time_range=time_range)
    depth = heatmaps.scroll_depth(project_id=project.id, path=path, time_range=time_range)
    # With what the overlay needs to draw as the admin's image does, that no copy drifts.
    body = {
        **HeatmapSerializer.render({"heatmap": heatmap, "scroll_depth": depth}),
        "maxDepth": heatmaps.MAX_DEPTH,
        "palette": [list(stop) for stop in STOPS],
    }
    return json_response(body, headers={**cors, "Cache-Control": "no-store"})
