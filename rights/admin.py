"""Data-rights actions on ingest's read-only changelists: erase the visitors of the selected
sessions, export the selected rows as CSV. ingest's admin classes are extended here rather
than there, because erasing a visitor also reaches experiments, which ingest may not import."""

from __future__ import annotations

from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils import timezone

from analytics.errors import ApiError
from ingest.admin import EventAdmin, MovementSampleAdmin, SessionAdmin
from ingest.models import Event, MovementSample, Session
from insights.admin import ProjectWithTrafficAdmin
from insights.time_ranges import parse_range
from projects.models import Project
from projects.selectors import get_project
from projects.services import staff_actor
from rights import selectors, services
from rights.encoding import ExportFormat, encode
from rights.selectors import TABLES, ExportKind
from rights.views import streamed


def _csv_export(modeladmin, request, queryset, kind: ExportKind) -> StreamingHttpResponse:
    """The selected rows (the changelist's filters, or every row with "select all") as CSV.
    One audit entry per project the rows belong to."""
    actor = staff_actor(request.user)
    for project in Project.objects.filter(id__in=queryset.values("project_id").distinct()):
        services.record_export(
            project=project, kind=kind, time_range=None, output=ExportFormat.CSV, actor=actor, via="admin"
        )
    table = TABLES[kind]
    rows = selectors.stream(queryset.order_by(), table)
    response = StreamingHttpResponse(encode(ExportFormat.CSV, table.columns, rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{kind}.csv"'
    return response


class SessionRightsAdmin(SessionAdmin):
    actions = ["erase_visitors", "export_csv"]

    @admin.action(description="Erase the visitors of the selected sessions (all their data)", permissions=["erase"])
    def erase_visitors(self, request, queryset) -> None:
        visitors = set(queryset.values_list("project_id", "anon_id").distinct())
        projects = Project.objects.in_bulk({project_id for project_id, _anon in visitors})
        totals = {"visitors": 0, "sessions": 0, "events": 0}
        for project_id, anon_id in sorted(visitors, key=str):
            erased = services.erase_visitor(
                project=projects[project_id], anon_id=anon_id, actor=staff_actor(request.user)
            )
            totals["visitors"] += 1
            totals["sessions"] += erased.sessions
            totals["events"] += erased.events
        self.message_user(
            request,
            "Erased {visitors} visitor(s): {sessions} session(s), {events} event(s) and the rest of their data.".format(
                **totals
            ),
            messages.SUCCESS,
        )

    def has_erase_permission(self, request) -> bool:
        # Erasing is deleting, though the rows are not edited one by one in this admin.
        return request.user.has_perm("ingest.delete_session")

    @admin.action(description="Export as CSV")
    def export_csv(self, request, queryset):
        return _csv_export(self, request, queryset, ExportKind.SESSIONS)


class EventRightsAdmin(EventAdmin):
    actions = ["export_csv"]

    @admin.action(description="Export as CSV")
    def export_csv(self, request, queryset):
        return _csv_export(self, request, queryset, ExportKind.EVENTS)


class MovementSampleRightsAdmin(MovementSampleAdmin):
    actions = ["export_csv"]

    @admin.action(description="Export as CSV")
    def export_csv(self, request, queryset):
        return _csv_export(self, request, queryset, ExportKind.MOVEMENT)


def export_range_view(
    request: HttpRequest, object_id: str, kind: str, *, model_admin: admin.ModelAdmin
) -> HttpResponse:
    """A project's events, sessions or movement samples of a range (the dashboard's, as `from`
    and `to`), as CSV: the admin's door to what GET /v1/projects/<id>/export streams."""
    try:
        project = get_project(project_id=object_id)
        export_kind = ExportKind(kind)
    except (ApiError, ValueError):
        raise Http404("No such project or kind of rows.") from None
    if not model_admin.has_view_permission(request, project):
        raise PermissionDenied
    try:
        time_range = parse_range(
            request.GET.get("from"), request.GET.get("to"), now=timezone.now(), time_zone=project.time_zone
        )
    except ApiError as error:
        return HttpResponseBadRequest(error.message, content_type="text/plain")
    services.record_export(
        project=project,
        kind=export_kind,
        time_range=time_range,
        output=ExportFormat.CSV,
        actor=staff_actor(request.user),
        via="admin",
    )
    rows = selectors.export_rows(project_id=project.id, kind=export_kind, time_range=time_range)
    return streamed(
        encode(ExportFormat.CSV, TABLES[export_kind].columns, rows),
        content_type=ExportFormat.CSV.content_type,
        filename=f"{export_kind}-{time_range.start:%Y%m%d}-{time_range.end:%Y%m%d}.csv",
    )


class ProjectRightsAdmin(ProjectWithTrafficAdmin):
    """The dashboard's "Export as CSV" of its range."""

    def get_urls(self) -> list[URLPattern]:
        export = path(
            "<path:object_id>/export/<slug:kind>/",
            self.admin_site.admin_view(partial(export_range_view, model_admin=self)),
            name="projects_project_export",
        )
        return [export, *super().get_urls()]


for model, model_admin in (
    (Project, ProjectRightsAdmin),
    (Session, SessionRightsAdmin),
    (Event, EventRightsAdmin),
    (MovementSample, MovementSampleRightsAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
