"""Data-rights actions on ingest's read-only changelists: erase the visitors of the selected
sessions, export the selected rows as CSV. ingest's admin classes are extended here rather
than there, because erasing a visitor also reaches experiments, which ingest may not import."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import StreamingHttpResponse

from ingest.admin import EventAdmin, MovementSampleAdmin, SessionAdmin
from ingest.models import Event, MovementSample, Session
from projects.models import Project
from projects.services import staff_actor
from rights import selectors, services
from rights.encoding import ExportFormat, encode
from rights.selectors import TABLES, ExportKind


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


for model, model_admin in (
    (Session, SessionRightsAdmin),
    (Event, EventRightsAdmin),
    (MovementSample, MovementSampleRightsAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
