"""Staff pages in the Django admin: a project's traffic dashboard and its movement heatmaps.

A dashboard belongs to a project, so its pages live under the project's admin URLs
(/admin/projects/project/<id>/insights/): this module extends the project admin with them
and with a link column, and registers the result in its place. Projects know nothing of the
traffic they guard. The pages use the same selectors as the admin API, so the page and
GET /v1/projects/<id>/stats always agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from analytics.errors import ApiError
from insights import heatmaps, selectors
from insights.charts import series_chart
from insights.filters import COLUMN_PARAMETERS, as_parameters, parse_filters
from insights.heatmap_png import STOPS, render_heatmap_png
from insights.time_ranges import Interval, TimeRange, parse_interval, parse_range
from projects.admin import ProjectAdmin
from projects.models import Project
from projects.selectors import get_project

PRESETS = {"today": ("Today", 1), "7d": ("Last 7 days", 7), "30d": ("Last 30 days", 30)}
CUSTOM = "custom"
DEFAULT_PRESET = "7d"
# Ranges up to this long are charted per hour unless the viewer picks an interval.
HOURLY_UP_TO = timedelta(days=2)
# The lists of sessions per session dimension, by column: title, and the name of a filter chip.
DIMENSION_LISTS = {
    "channel": ("Channels", "Channel"),
    "source": ("Sources", "Source"),
    "utm_campaign": ("Campaigns", "Campaign"),
    "country": ("Countries", "Country"),
    "device": ("Devices", "Device"),
    "browser": ("Browsers", "Browser"),
    "os": ("Operating systems", "OS"),
}


def insights_urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:
    """URLs to put in front of ProjectAdmin's own; each wrapped by admin_view (staff login)."""
    wrap = model_admin.admin_site.admin_view
    return [
        path(
            "<path:object_id>/insights/",
            wrap(partial(dashboard_view, model_admin=model_admin)),
            name="projects_project_insights",
        ),
        path(
            "<path:object_id>/insights/heatmap/",
            wrap(partial(heatmap_view, model_admin=model_admin)),
            name="projects_project_heatmap",
        ),
        path(
            "<path:object_id>/insights/heatmap.png",
            wrap(partial(heatmap_image_view, model_admin=model_admin)),
            name="projects_project_heatmap_png",
        ),
    ]


def _viewable_project(request: HttpRequest, object_id: str, model_admin: admin.ModelAdmin) -> Project:
    try:
        project = get_project(project_id=object_id)
    except ApiError as exc:
        raise Http404(exc.message) from None
    if not model_admin.has_view_permission(request, project):
        raise PermissionDenied
    return project


def _preset_bounds(preset: str, now: datetime) -> tuple[str, str]:
    """`from` and `to` dates of a preset: the last N days, today included."""
    days = PRESETS[preset][1]
    today = now.date()
    return (today - timedelta(days=days - 1)).isoformat(), today.isoformat()


def _chosen_range(request: HttpRequest) -> tuple[dict[str, Any], TimeRange, Interval, str | None]:
    """The picker's state, the range and interval it means, and an error to show if any.

    A bad choice falls back to the default preset, with the error shown above the numbers.
    """
    now = timezone.now()
    preset = request.GET.get("range") or DEFAULT_PRESET
    if preset not in PRESETS and preset != CUSTOM:
        preset = DEFAULT_PRESET
    raw_from, raw_to = request.GET.get("from", ""), request.GET.get("to", "")
    picked_interval = request.GET.get("interval", "")
    error = None
    try:
        if preset != CUSTOM:
            raw_from, raw_to = _preset_bounds(preset, now)
        time_range = parse_range(raw_from, raw_to, now=now)
        default_interval = Interval.HOUR if time_range.duration <= HOURLY_UP_TO else Interval.DAY
        interval = parse_interval(picked_interval, default=default_interval)
        time_range = parse_range(raw_from, raw_to, now=now, interval=interval)
    except ApiError as exc:
        error = exc.message
        preset, picked_interval = DEFAULT_PRESET, ""
        raw_from, raw_to = _preset_bounds(preset, now)
        interval = Interval.DAY
        time_range = parse_range(raw_from, raw_to, now=now, interval=interval)
    picker = {
        "range": preset,
        "from": raw_from,
        "to": raw_to,
        "interval": picked_interval,
        "presets": [(key, label) for key, (label, _days) in PRESETS.items()],
    }
    return picker, time_range, interval, error


def _range_query(picker: dict[str, Any]) -> dict[str, str]:
    query = {"range": picker["range"], "interval": picker["interval"]}
    if picker["range"] == CUSTOM:
        query.update({"from": picker["from"], "to": picker["to"]})
    return {key: value for key, value in query.items() if value}


def _context(request: HttpRequest, model_admin: admin.ModelAdmin, project: Project, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "project": project,
        "original": project,
        "has_view_permission": True,
        **extra,
    }


def _chosen_filters(request: HttpRequest) -> tuple[dict[str, str], str | None]:
    """The filters asked for, or none and the error to show."""
    try:
        return parse_filters(request.GET), None
    except ApiError as exc:
        return {}, f"{exc.message} Showing every session instead."


def _dimension_lists(
    stats: selectors.TrafficStats, filters: dict[str, str], page_query: dict[str, str]
) -> list[dict[str, Any]]:
    """The lists of sessions per session dimension, each row linking to the page filtered by
    it as well (a null value, not known, cannot be filtered by)."""
    return [
        {
            "title": title,
            "rows": [
                {
                    "value": row.value,
                    "count": row.count,
                    "url": None
                    if row.value is None or column in filters
                    else f"?{urlencode({**page_query, COLUMN_PARAMETERS[column]: row.value})}",
                }
                for row in stats.dimensions[column]
            ],
        }
        for column, (title, _chip) in DIMENSION_LISTS.items()
    ]


def _chips(filters: dict[str, str], page_query: dict[str, str]) -> list[dict[str, str]]:
    """The active filters, each with the page's URL without it."""
    return [
        {
            "label": f"{DIMENSION_LISTS[column][1]}: {value}",
            "remove_url": "?"
            + urlencode({key: kept for key, kept in page_query.items() if key != COLUMN_PARAMETERS[column]}),
        }
        for column, value in filters.items()
    ]


def dashboard_view(request: HttpRequest, object_id: str, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    project = _viewable_project(request, object_id, model_admin)
    picker, time_range, interval, error = _chosen_range(request)
    filters, filter_error = _chosen_filters(request)
    stats = selectors.traffic_stats(project_id=project.id, time_range=time_range, interval=interval, filters=filters)
    range_query = _range_query(picker)
    filter_query = as_parameters(filters)
    page_query = {**range_query, **filter_query}
    heatmap_url = reverse("admin:projects_project_heatmap", args=[project.pk])
    paths = [
        {
            "row": row,
            "share": row.count / stats.totals.page_views if stats.totals.page_views else 0,
            "clicks_url": f"{heatmap_url}?{urlencode({**range_query, 'path': row.value, 'kind': 'click'})}",
            "moves_url": f"{heatmap_url}?{urlencode({**range_query, 'path': row.value, 'kind': 'move'})}",
        }
        for row in stats.top_paths
    ]
    context = _context(
        request,
        model_admin,
        project,
        title=f"Traffic: {project.name}",
        picker=picker,
        intervals=[str(choice) for choice in Interval],
        error=error,
        filter_error=filter_error,
        stats=stats,
        chart=series_chart(stats.series, interval),
        paths=paths,
        range_query=range_query,
        filter_query=filter_query,
        chips=_chips(filters, page_query),
        clear_filters_url=f"?{urlencode(range_query)}",
        dimension_lists=_dimension_lists(stats, filters, page_query),
    )
    return TemplateResponse(request, "admin/insights/dashboard.html", context)


def _heatmap_choice(request: HttpRequest) -> tuple[str, heatmaps.HeatmapKind]:
    try:
        return heatmaps.parse_path(request.GET.get("path")), heatmaps.parse_kind(request.GET.get("kind"))
    except ApiError as exc:
        raise Http404(exc.message) from None


def heatmap_view(request: HttpRequest, object_id: str, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    project = _viewable_project(request, object_id, model_admin)
    path_, kind = _heatmap_choice(request)
    picker, time_range, _interval, error = _chosen_range(request)
    heatmap = heatmaps.movement_heatmap(project_id=project.id, path=path_, kind=kind, time_range=time_range)
    depth = heatmaps.scroll_depth(project_id=project.id, path=path_, time_range=time_range)
    range_query = _range_query(picker)
    image_query = urlencode({**range_query, "path": path_, "kind": str(kind)})
    dashboard_url = reverse("admin:projects_project_insights", args=[project.pk])
    top_paths = selectors.top_paths(project_id=project.id, time_range=time_range)
    context = _context(
        request,
        model_admin,
        project,
        title=f"{kind.capitalize()} heatmap: {project.name} {path_}",
        picker=picker,
        intervals=[],
        error=error,
        heatmap=heatmap,
        depth=depth,
        path=path_,
        kind=str(kind),
        kinds=[str(choice) for choice in heatmaps.HeatmapKind],
        top_paths=[row.value for row in top_paths],
        image_url=f"{reverse('admin:projects_project_heatmap_png', args=[project.pk])}?{image_query}",
        dashboard_url=f"{dashboard_url}?{urlencode(range_query)}",
        colour_scale=", ".join(f"rgb{stop}" for stop in STOPS),
        reference_width=heatmaps.REFERENCE_WIDTH,
        cell=heatmaps.CELL,
    )
    return TemplateResponse(request, "admin/insights/heatmap.html", context)


def heatmap_image_view(request: HttpRequest, object_id: str, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    project = _viewable_project(request, object_id, model_admin)
    path_, kind = _heatmap_choice(request)
    _picker, time_range, _interval, _error = _chosen_range(request)
    heatmap = heatmaps.movement_heatmap(project_id=project.id, path=path_, kind=kind, time_range=time_range)
    return HttpResponse(render_heatmap_png(heatmap), content_type="image/png")


class ProjectWithTrafficAdmin(ProjectAdmin):
    list_display = [*ProjectAdmin.list_display, "traffic"]
    readonly_fields = [*ProjectAdmin.readonly_fields, "traffic"]

    def get_urls(self) -> list[URLPattern]:
        return [*insights_urls(self), *super().get_urls()]

    @admin.display(description="Traffic")
    def traffic(self, project: Project) -> str:
        if project.pk is None or project._state.adding:
            return "—"
        url = reverse("admin:projects_project_insights", args=[project.pk])
        return format_html('<a href="{}">Dashboard and heatmaps</a>', url)


# Importing ProjectAdmin above registered it; the extended admin takes its place.
admin.site.unregister(Project)
admin.site.register(Project, ProjectWithTrafficAdmin)
