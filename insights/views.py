"""Admin-key endpoints over a project's traffic: GET /v1/projects/<id>/stats and /heatmap."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from analytics.api import AdminApiView
from analytics.errors import invalid_field
from analytics.http import iso, json_response
from analytics.openapi import NO_NUL, admin_operation, ref
from insights import heatmaps, selectors
from insights.heatmap_png import render_heatmap_png
from insights.time_ranges import Interval, TimeRange, parse_interval, parse_range
from projects.selectors import get_project

HEATMAP_FORMATS = ("json", "png")
RANGE_PARAMETERS = (
    OpenApiParameter("from", str, description="ISO 8601 date or datetime (UTC without offset); default: 7 days ago."),
    OpenApiParameter("to", str, description="ISO 8601 date (that whole day) or datetime; default: the end of today."),
)


def choice(name: str, values: list[str]) -> OpenApiParameter:
    """A query parameter of a few values; empty or absent means the first."""
    return OpenApiParameter(name, str, enum=[*values, ""], description=f"Default (also when empty): {values[0]}.")


RANGE_ERRORS = (
    "400 `invalid_field` (a bad date or choice), `invalid_range` (`from` not before `to`), `range_too_large`."
)


def _range_json(time_range: TimeRange) -> dict:
    return {"from": iso(time_range.start), "to": iso(time_range.end), "timeZone": "UTC"}


def _ranked_json(rows: list[selectors.RankedValue], key: str, count: str) -> list[dict]:
    return [{key: row.value, count: row.count} for row in rows]


def stats_json(project_id: str, stats: selectors.TrafficStats) -> dict:
    totals = stats.totals
    return {
        "projectId": project_id,
        **_range_json(stats.time_range),
        "interval": str(stats.interval),
        "totals": {
            "pageViews": totals.page_views,
            "events": totals.events,
            "sessions": totals.sessions,
            "visitors": totals.visitors,
            "eventsPerSession": totals.events_per_session,
            "sessionsWithPageView": totals.sessions_with_page_view,
            "bouncedSessions": totals.bounced_sessions,
            "bounceRate": totals.bounce_rate,
        },
        "series": [
            {"start": iso(bucket.start), "pageViews": bucket.page_views, "sessions": bucket.sessions}
            for bucket in stats.series
        ],
        "topPaths": _ranked_json(stats.top_paths, "path", "pageViews"),
        "topReferrers": _ranked_json(stats.top_referrers, "referrer", "sessions"),
        "topEventTypes": _ranked_json(stats.top_event_types, "type", "events"),
        "languages": _ranked_json(stats.languages, "language", "sessions"),
        "screenSizes": [
            {"width": row.width, "height": row.height, "sessions": row.sessions} for row in stats.screen_sizes
        ],
    }


def heatmap_json(project_id: str, heatmap: heatmaps.Heatmap, depth: heatmaps.ScrollDepth) -> dict:
    return {
        "projectId": project_id,
        "path": heatmap.path,
        "kind": str(heatmap.kind),
        **_range_json(heatmap.time_range),
        "referenceWidth": heatmaps.REFERENCE_WIDTH,
        "cellSize": heatmaps.CELL,
        "columns": heatmaps.COLUMNS,
        "rows": heatmap.rows,
        "samples": heatmap.samples,
        "maxCount": heatmap.max_count,
        "bins": [[cell.column, cell.row, cell.count] for cell in heatmap.bins],
        "scrollDepth": {
            "sessions": depth.sessions,
            "steps": [{"depth": step.depth, "sessions": step.sessions, "share": step.share} for step in depth.steps],
        },
    }


class ProjectStatsView(AdminApiView):
    @admin_operation(
        operation_id="projectStats",
        parameters=(*RANGE_PARAMETERS, choice("interval", ["hour", "day"])),
        success={200: OpenApiResponse(ref("TrafficStats"), description="Totals, series and top lists.")},
        errors=(400, 404),
        description=f"At most 31 days by hour, 366 by day. {RANGE_ERRORS}",
    )
    def get(self, request, project_id: str):
        project = get_project(project_id=project_id)
        interval = parse_interval(request.GET.get("interval"))
        time_range = parse_range(request.GET.get("from"), request.GET.get("to"), now=timezone.now(), interval=interval)
        stats = selectors.traffic_stats(project_id=project.id, time_range=time_range, interval=interval)
        return json_response(stats_json(str(project.id), stats))


class ProjectHeatmapView(AdminApiView):
    def perform_content_negotiation(self, request, force=False):
        # `?format=png` is this view's own choice; DRF would read it as a renderer and 404.
        return super().perform_content_negotiation(request, force=True)

    @admin_operation(
        operation_id="projectHeatmap",
        parameters=(
            OpenApiParameter(
                "path",
                {"type": "string", "minLength": 1, "maxLength": heatmaps.MAX_PATH_LENGTH, "pattern": NO_NUL},
                required=True,
                description="The page path as the SDK sends it.",
            ),
            choice("kind", ["click", "move"]),
            *RANGE_PARAMETERS,
            choice("format", list(HEATMAP_FORMATS)),
        ),
        success={
            (200, "application/json"): OpenApiResponse(ref("Heatmap"), description="Bins and scroll depth."),
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="The heatmap drawn (format=png)."),
        },
        errors=(400, 404),
        description=f"At most 366 days. {RANGE_ERRORS}",
    )
    def get(self, request, project_id: str):
        project = get_project(project_id=project_id)
        path = heatmaps.parse_path(request.GET.get("path"))
        kind = heatmaps.parse_kind(request.GET.get("kind"))
        output = request.GET.get("format") or "json"
        if output not in HEATMAP_FORMATS:
            raise invalid_field("format", f"{output!r} is not one of: json, png.")
        # Heatmaps have no buckets; the day interval's bound keeps the scanned range sane.
        time_range = parse_range(
            request.GET.get("from"), request.GET.get("to"), now=timezone.now(), interval=Interval.DAY
        )
        heatmap = heatmaps.movement_heatmap(project_id=project.id, path=path, kind=kind, time_range=time_range)
        if output == "png":
            return HttpResponse(render_heatmap_png(heatmap), content_type="image/png")
        depth = heatmaps.scroll_depth(project_id=project.id, path=path, time_range=time_range)
        return json_response(heatmap_json(str(project.id), heatmap, depth))
