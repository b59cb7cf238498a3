"""Admin-key endpoints over a project's traffic: GET /v1/projects/<id>/stats, /realtime and /heatmap."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from analytics.api import AdminApiView
from analytics.errors import invalid_field
from analytics.http import json_response
from analytics.openapi import NO_NUL, admin_operation
from insights import heatmaps, selectors
from insights.filters import CHOICES, PARAMETERS, max_length, parse_filters
from insights.heatmap_png import render_heatmap_png
from insights.serializers import HeatmapSerializer, RealtimeSerializer, TrafficStatsSerializer
from insights.time_ranges import Interval, parse_interval, parse_range
from projects.selectors import get_project

HEATMAP_FORMATS = ("json", "png")
RANGE_PARAMETERS = (
    OpenApiParameter(
        "from",
        str,
        description="ISO 8601 date or datetime, in the project's time zone without an offset; default: 7 days ago.",
    ),
    OpenApiParameter(
        "to",
        str,
        description="ISO 8601 date (that whole day of the project's time zone) or datetime; default: the end of today.",
    ),
)


def choice(name: str, values: list[str]) -> OpenApiParameter:
    """A query parameter of a few values; empty or absent means the first."""
    return OpenApiParameter(name, str, enum=[*values, ""], description=f"Default (also when empty): {values[0]}.")


NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f\\u007f]*$"
RANGE_ERRORS = (
    "400 `invalid_field` (a bad date or choice), `invalid_range` (`from` not before `to`), `range_too_large`."
)


def _filter_schema(column: str) -> dict:
    if column in CHOICES:
        return {"type": "string", "enum": [*CHOICES[column], ""]}
    if column == "country":
        return {"type": "string", "pattern": "^([A-Z]{2})?$"}
    return {"type": "string", "maxLength": max_length(column), "pattern": NO_CONTROL_CHARACTERS}


FILTER_PARAMETERS = tuple(
    OpenApiParameter(
        parameter, _filter_schema(column), description=f"Only sessions whose {parameter} is this (empty: no filter)."
    )
    for parameter, column in PARAMETERS.items()
)


class ProjectStatsView(AdminApiView):
    @admin_operation(
        operation_id="projectStats",
        parameters=(*RANGE_PARAMETERS, choice("interval", ["hour", "day"]), *FILTER_PARAMETERS),
        success={200: OpenApiResponse(TrafficStatsSerializer, description="Totals, series and top lists.")},
        errors=(400, 404),
        description=(
            "At most 31 days by hour, 366 by day. Filters combine with AND and restrict every number "
            f"to the matching sessions. {RANGE_ERRORS} A filter no session can match (a device or "
            "channel that does not exist, a country not in two capitals, too long, given twice): "
            "`invalid_field`."
        ),
    )
    def get(self, request, project_id: str):
        project = get_project(project_id=project_id)
        interval = parse_interval(request.GET.get("interval"))
        time_range = parse_range(
            request.GET.get("from"),
            request.GET.get("to"),
            now=timezone.now(),
            interval=interval,
            time_zone=project.time_zone,
        )
        filters = parse_filters(request.GET)
        stats = selectors.traffic_stats(
            project_id=project.id, time_range=time_range, interval=interval, filters=filters
        )
        return json_response(TrafficStatsSerializer.render(stats))


class ProjectRealtimeView(AdminApiView):
    @admin_operation(
        operation_id="projectRealtime",
        success={200: OpenApiResponse(RealtimeSerializer, description="The last 5 and 30 minutes.")},
        errors=(404,),
        description=(
            "Visitors of the last 5 minutes and page views per minute of the last 30 (UTC, the running "
            f"minute last). Kept {selectors.REALTIME_CACHE_SECONDS} s per project, so polling it every "
            "few seconds from many places costs one query per project each time it expires."
        ),
    )
    def get(self, request, project_id: str):
        project = get_project(project_id=project_id)
        realtime = selectors.cached_realtime_traffic(project_id=project.id, now=timezone.now())
        return json_response(RealtimeSerializer.render(realtime))


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
            (200, "application/json"): OpenApiResponse(HeatmapSerializer, description="Bins and scroll depth."),
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
            request.GET.get("from"),
            request.GET.get("to"),
            now=timezone.now(),
            interval=Interval.DAY,
            time_zone=project.time_zone,
        )
        heatmap = heatmaps.movement_heatmap(project_id=project.id, path=path, kind=kind, time_range=time_range)
        if output == "png":
            return HttpResponse(render_heatmap_png(heatmap), content_type="image/png")
        depth = heatmaps.scroll_depth(project_id=project.id, path=path, time_range=time_range)
        return json_response(HeatmapSerializer.render({"heatmap": heatmap, "scroll_depth": depth}))
