"""Staff pages in the Django admin: a project's traffic dashboard and its movement heatmaps.

A dashboard belongs to a project, so its pages live under the project's admin URLs
(/admin/projects/project/<id>/insights/): this module extends the project admin with them
and with a link column, and registers the result in its place. Projects know nothing of the
traffic they guard. The pages use the same selectors as the admin API, so the page and
GET /v1/projects/<id>/stats always agree.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import slugify

from analytics.errors import ApiError
from analytics.http import iso, json_response
from insights import heatmaps, selectors
from insights.charts import series_chart
from insights.filters import COLUMN_PARAMETERS, as_parameters, parse_filters
from insights.heatmap_png import STOPS, render_heatmap_png
from insights.overlay import TOKEN_LIFETIME, issue_overlay_token, overlay_link
from insights.serializers import RealtimeSerializer
from insights.time_ranges import Interval, TimeRange, local_date, local_time, parse_interval, parse_range
from projects.admin import ProjectAdmin
from projects.models import Project
from projects.selectors import get_project

PRESETS = {"today": ("Today", 1), "7d": ("Last 7 days", 7), "30d": ("Last 30 days", 30)}
CUSTOM = "custom"
DEFAULT_PRESET = "7d"
# Ranges up to this long are charted per hour unless the viewer picks an interval.
HOURLY_UP_TO = timedelta(days=2)
# The lists of sessions per session dimension, by column: title, the name of a filter chip,
# and the list's name in its CSV address.
DIMENSION_LISTS = {
    "channel": ("Channels", "Channel", "channels"),
    "source": ("Sources", "Source", "sources"),
    "utm_campaign": ("Campaigns", "Campaign", "campaigns"),
    "country": ("Countries", "Country", "countries"),
    "device": ("Devices", "Device", "devices"),
    "browser": ("Browsers", "Browser", "browsers"),
    "os": ("Operating systems", "OS", "operating-systems"),
}
# The other lists a CSV can hold, by name in its address: their first column's heading.
SESSION_LISTS = {"referrers": "referrer", "languages": "language"}
COUNTED_LISTS = {"paths": ("path", "page_views"), "event-types": ("type", "events")}
# Sessions per entry or exit path: the attribute of selectors.SessionPages.
PAGE_LISTS = {"entry-pages": "entry_pages", "exit-pages": "exit_pages"}
CSV_LISTS = (
    "paths",
    "event-types",
    *PAGE_LISTS,
    *SESSION_LISTS,
    "screen-sizes",
    *(slug for _t, _c, slug in DIMENSION_LISTS.values()),
)
# A CSV holds the whole list, not the page's top ten; this bounds the file.
CSV_ROWS = 10_000
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COMPARE_PREVIOUS = "previous"
NO_VALUE = "\u2013"  # an en dash, where there is no number
# The totals shown as cards: attribute of Totals, label, and how its value reads.
CARDS = (
    ("page_views", "Page views", "count"),
    ("sessions", "Sessions", "count"),
    ("visitors", "Unique visitors", "count"),
    ("events", "Events (all types)", "count"),
    ("events_per_session", "Events per session", "ratio"),
    ("bounce_rate", "Bounce rate", "percent"),
)


def insights_urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:
    """URLs to put in front of ProjectAdmin's own; each wrapped by admin_view (staff login)."""
    wrap = model_admin.admin_site.admin_view
    # Below a project's address: the route, the view, and the name after "projects_project_".
    pages = [
        ("", dashboard_view, "insights"),
        ("heatmap/", heatmap_view, "heatmap"),
        ("heatmap.png", heatmap_image_view, "heatmap_png"),
        ("realtime/", realtime_view, "realtime"),
        ("csv/<slug:list_name>/", csv_view, "csv"),
    ]
    return [
        path(
            f"<path:object_id>/insights/{route}",
            wrap(partial(view, model_admin=model_admin)),
            name=f"projects_project_{name}",
        )
        for route, view, name in pages
    ]


def _viewable_project(request: HttpRequest, object_id: str, model_admin: admin.ModelAdmin) -> Project:
    try:
        project = get_project(project_id=object_id)
    except ApiError as exc:
        raise Http404(exc.message) from None
    if not model_admin.has_view_permission(request, project):
        raise PermissionDenied
    return project


def _preset_bounds(preset: str, now: datetime, time_zone: str) -> tuple[str, str]:
    """`from` and `to` dates of a preset: the last N days of the project's zone, today included."""
    days = PRESETS[preset][1]
    last = local_date(now, time_zone)
    return (last - timedelta(days=days - 1)).isoformat(), last.isoformat()


def _chosen_range(request: HttpRequest, project: Project) -> tuple[dict[str, Any], TimeRange, Interval, str | None]:
    """The picker's state, the range and interval it means (in the project's time zone), and
    an error to show if any.

    A bad choice falls back to the default preset, with the error shown above the numbers.
    """
    now = timezone.now()
    zone = project.time_zone
    preset = request.GET.get("range") or DEFAULT_PRESET
    if preset not in PRESETS and preset != CUSTOM:
        preset = DEFAULT_PRESET
    raw_from, raw_to = request.GET.get("from", ""), request.GET.get("to", "")
    picked_interval = request.GET.get("interval", "")
    error = None
    try:
        if preset != CUSTOM:
            raw_from, raw_to = _preset_bounds(preset, now, zone)
        time_range = parse_range(raw_from, raw_to, now=now, time_zone=zone)
        default_interval = Interval.HOUR if time_range.duration <= HOURLY_UP_TO else Interval.DAY
        interval = parse_interval(picked_interval, default=default_interval)
        time_range = parse_range(raw_from, raw_to, now=now, interval=interval, time_zone=zone)
    except ApiError as exc:
        error = exc.message
        preset, picked_interval = DEFAULT_PRESET, ""
        raw_from, raw_to = _preset_bounds(preset, now, zone)
        interval = Interval.DAY
        time_range = parse_range(raw_from, raw_to, now=now, interval=interval, time_zone=zone)
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
    stats: selectors.TrafficStats, filters: dict[str, str], page_query: dict[str, str], csv_urls: dict[str, str]
) -> list[dict[str, Any]]:
    """The lists of sessions per session dimension, each row linking to the page filtered by
    it as well (a null value, not known, cannot be filtered by)."""
    return [
        {
            "title": title,
            "csv_url": csv_urls[slug.replace("-", "_")],
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
        for column, (title, _chip, slug) in DIMENSION_LISTS.items()
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


def _shown(value: float | None, kind: str) -> str:
    if value is None:
        return NO_VALUE
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "percent":
        return f"{round(value * 100)} %"
    return f"{value:,}"


def _trend(change: float | None) -> str:
    if change is None:
        return NO_VALUE
    percent = round(change * 100)
    return f"{'▲' if percent > 0 else '▼' if percent < 0 else '='} {abs(percent)} %"


def _previous_period(stats: selectors.TrafficStats) -> str:
    since = stats.time_range.previous
    zone = since.time_zone
    return f"{local_time(since.start, zone):%Y-%m-%d %H:%M} to {local_time(since.end, zone):%Y-%m-%d %H:%M} {zone}"


def _total(totals: selectors.Totals | None, name: str, kind: str) -> str:
    """A total as the page shows it; an estimated visitors count with "≈" before it."""
    shown = _shown(getattr(totals, name, None), kind)
    if name == "visitors" and totals is not None and totals.visitors_estimated:
        return f"≈ {shown}"
    return shown


def _estimate_note(totals: selectors.Totals, name: str) -> str:
    if name != "visitors" or not totals.visitors_estimated:
        return ""
    return f"estimate, standard error {totals.visitors_standard_error:.2%}"


def _cards(stats: selectors.TrafficStats) -> list[dict[str, str]]:
    """Each total with its change against the previous period, and that period's value."""
    previous = stats.previous_totals
    change = stats.change
    period = _previous_period(stats)
    return [
        {
            "label": label,
            "value": _total(stats.totals, name, kind),
            "note": _estimate_note(stats.totals, name),
            "trend": _trend(getattr(change, name)),
            "title": f"Previous period ({period}): {_total(previous, name, kind)}",
        }
        for name, label, kind in CARDS
    ]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return NO_VALUE
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def _duration_cards(stats: selectors.TrafficStats) -> list[dict[str, str]]:
    """The median and mean visit, said to the second (exact in the API), with their change."""
    duration, previous, change = stats.visit_duration, stats.previous_visit_duration, stats.visit_duration_change
    measured = f"over {duration.sessions:,} sessions, {duration.single_event_sessions:,} of them with one event (0 s)"
    period = _previous_period(stats)
    return [
        {
            "label": label,
            "value": _duration(getattr(duration, name)),
            "trend": _trend(getattr(change, name)),
            "title": f"{label}: {_exact_seconds(getattr(duration, name))} {measured}. "
            f"Previous period ({period}): {_exact_seconds(getattr(previous, name))}",
        }
        for label, name in (("Median visit", "median_seconds"), ("Mean visit", "mean_seconds"))
    ]


def _exact_seconds(seconds: float | None) -> str:
    return NO_VALUE if seconds is None else f"{seconds} s"


def _csv_urls(project: Project, page_query: dict[str, str]) -> dict[str, str]:
    """Each list's CSV address, by its name with underscores (as a template can look it up)."""
    query = f"?{urlencode(page_query)}" if page_query else ""
    return {
        name.replace("-", "_"): f"{reverse('admin:projects_project_csv', args=[project.pk, name])}{query}"
        for name in CSV_LISTS
    }


def dashboard_view(request: HttpRequest, object_id: str, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    project = _viewable_project(request, object_id, model_admin)
    picker, time_range, interval, error = _chosen_range(request, project)
    filters, filter_error = _chosen_filters(request)
    stats = selectors.traffic_stats(project_id=project.id, time_range=time_range, interval=interval, filters=filters)
    compare = request.GET.get("compare") == COMPARE_PREVIOUS
    previous_series = (
        selectors.traffic_series(
            project_id=project.id, time_range=time_range.previous, interval=interval, filters=filters
        )
        if compare
        else None
    )
    range_query = _range_query(picker)
    filter_query = as_parameters(filters)
    compare_query = {"compare": COMPARE_PREVIOUS} if compare else {}
    page_query = {**range_query, **filter_query, **compare_query}
    toggled = {} if compare else {"compare": COMPARE_PREVIOUS}
    csv_urls = _csv_urls(project, {**range_query, **filter_query})
    realtime = selectors.cached_realtime_traffic(project_id=project.id, now=timezone.now())
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
        cards=[*_cards(stats), *_duration_cards(stats)],
        visitors_note=_estimate_note(stats.totals, "visitors"),
        chart=series_chart(stats.series, interval, time_zone=project.time_zone, previous=previous_series),
        compare=compare,
        compare_url=f"?{urlencode({**range_query, **filter_query, **toggled})}",
        export_query=urlencode({"from": iso(time_range.start), "to": iso(time_range.end)}),
        paths=paths,
        range_query=range_query,
        filter_query={**filter_query, **compare_query},
        chips=_chips(filters, page_query),
        clear_filters_url=f"?{urlencode({**range_query, **compare_query})}",
        dimension_lists=_dimension_lists(stats, filters, page_query, csv_urls),
        csv_urls=csv_urls,
        realtime=realtime,
        realtime_peak=max((bucket.page_views for bucket in realtime.per_minute), default=0),
        realtime_url=reverse("admin:projects_project_realtime", args=[project.pk]),
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
    picker, time_range, _interval, error = _chosen_range(request, project)
    heatmap = heatmaps.movement_heatmap(project_id=project.id, path=path_, kind=kind, time_range=time_range)
    depth = heatmaps.scroll_depth(project_id=project.id, path=path_, time_range=time_range)
    range_query = _range_query(picker)
    image_query = urlencode({**range_query, "path": path_, "kind": str(kind)})
    dashboard_url = reverse("admin:projects_project_insights", args=[project.pk])
    top_paths = selectors.top_paths(project_id=project.id, time_range=time_range)
    token = issue_overlay_token(project_id=project.id, path=path_, now=timezone.now())
    overlay_links = [
        {"origin": origin, "url": overlay_link(origin=origin, path=path_, token=token, kind=str(kind))}
        for origin in project.origins
    ]
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
        overlay_links=overlay_links,
        overlay_minutes=int(TOKEN_LIFETIME.total_seconds() // 60),
    )
    return TemplateResponse(request, "admin/insights/heatmap.html", context)


def heatmap_image_view(request: HttpRequest, object_id: str, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    project = _viewable_project(request, object_id, model_admin)
    path_, kind = _heatmap_choice(request)
    _picker, time_range, _interval, _error = _chosen_range(request, project)
    heatmap = heatmaps.movement_heatmap(project_id=project.id, path=path_, kind=kind, time_range=time_range)
    return HttpResponse(render_heatmap_png(heatmap), content_type="image/png")


def realtime_view(request: HttpRequest, object_id: str, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """The dashboard's realtime box polls this (same origin, the staff session's cookie)."""
    project = _viewable_project(request, object_id, model_admin)
    realtime = selectors.cached_realtime_traffic(project_id=project.id, now=timezone.now())
    return json_response(RealtimeSerializer.render(realtime))


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text: one that would start a formula is quoted."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _csv_table(
    list_name: str, *, project_id: Any, time_range: TimeRange, filters: dict[str, str]
) -> tuple[list[str], list[list[object]]]:
    """The heading and rows of one of the dashboard's lists, whole, from the same selectors."""
    scope = {"project_id": project_id, "time_range": time_range, "filters": filters, "limit": CSV_ROWS}
    if list_name in COUNTED_LISTS:
        top = selectors.top_paths if list_name == "paths" else selectors.top_event_types
        return list(COUNTED_LISTS[list_name]), [[row.value, row.count] for row in top(**scope)]
    if list_name in PAGE_LISTS:
        pages = getattr(selectors.session_pages_and_durations(**scope), PAGE_LISTS[list_name])
        return ["path", "sessions"], [[row.value, row.count] for row in pages]
    sessions = selectors.session_rollup(**scope)
    if list_name == "screen-sizes":
        return ["width", "height", "sessions"], [[row.width, row.height, row.sessions] for row in sessions.screen_sizes]
    if list_name in SESSION_LISTS:
        rows = sessions.referrers if list_name == "referrers" else sessions.languages
        return [SESSION_LISTS[list_name], "sessions"], [[row.value, row.count] for row in rows]
    column = next(column for column, (_t, _c, slug) in DIMENSION_LISTS.items() if slug == list_name)
    return [COLUMN_PARAMETERS[column], "sessions"], [[row.value, row.count] for row in sessions.dimensions[column]]


def csv_view(request: HttpRequest, object_id: str, list_name: str, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """One list of the dashboard as CSV, for the range and filters of the page that links it.
    A bad range or filter is refused rather than replaced, as the page would: a file does not
    show which numbers it holds."""
    project = _viewable_project(request, object_id, model_admin)
    if list_name not in CSV_LISTS:
        raise Http404(f"No list named {list_name!r}.")
    _picker, time_range, _interval, error = _chosen_range(request, project)
    try:
        filters = parse_filters(request.GET)
    except ApiError as exc:
        error = exc.message
    if error:
        return HttpResponseBadRequest(error, content_type="text/plain; charset=utf-8")
    heading, rows = _csv_table(list_name, project_id=project.id, time_range=time_range, filters=filters)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(heading)
    writer.writerows([_cell(value) for value in row] for row in rows)
    first_day = local_date(time_range.start, time_range.time_zone)
    last_day = local_date(time_range.end - timedelta(microseconds=1), time_range.time_zone)
    name = f"{slugify(project.name) or 'project'}-{list_name}-{first_day}-to-{last_day}.csv"
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


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
# The admin's index lists the dashboards above the apps (insights/templatetags/insights_links.py).
admin.site.index_template = "admin/insights/index.html"
