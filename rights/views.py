"""Admin-key endpoints of data rights: erase or hand over one visitor, export a range."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from analytics.api import AdminApiView, admin_key_actor
from analytics.errors import invalid_field
from analytics.http import json_response
from analytics.openapi import admin_operation
from insights.time_ranges import parse_range
from projects.selectors import get_project
from rights import selectors, services
from rights.encoding import ExportFormat, encode
from rights.selectors import ExportKind
from rights.serializers import ErasureSerializer

RANGE_ERRORS = "400 `invalid_field` (a bad date, kind or format), `invalid_range` (`from` not before `to`)."


def parse_choice(name: str, raw: str | None, choices: type[ExportKind] | type[ExportFormat]):
    """A query parameter of a few values; empty or absent means the first."""
    if not raw:
        return next(iter(choices))
    try:
        return choices(raw)
    except ValueError:
        allowed = ", ".join(choices)
        raise invalid_field(name, f"{raw[:100]!r} is not one of: {allowed}.") from None


def streamed(pieces, *, content_type: str, filename: str | None = None) -> StreamingHttpResponse:
    response = StreamingHttpResponse(pieces, content_type=content_type)
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Proxies that buffer whole answers would defeat the point of streaming them.
    response["X-Accel-Buffering"] = "no"
    return response


class VisitorView(AdminApiView):
    @admin_operation(
        operation_id="handOverVisitor",
        success={
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR,
                description="One JSON object a line, each with `kind`: session, event, movement, assignment "
                "or conversion; no line for a visitor the project has never seen.",
            )
        },
        errors=(404,),
        description="Everything the service holds on one visitor (anonId) of the project, streamed.",
    )
    def get(self, request, project_id: str, anon_id: str):
        project = get_project(project_id=project_id)
        services.record_hand_over(project=project, anon_id=anon_id, actor=admin_key_actor())
        records = selectors.visitor_records(project_id=project.id, anon_id=anon_id)
        return streamed(encode(ExportFormat.NDJSON, [], records), content_type=ExportFormat.NDJSON.content_type)

    @admin_operation(
        operation_id="eraseVisitor",
        success={200: OpenApiResponse(ErasureSerializer, description="What was deleted; zeros when nothing was.")},
        errors=(404,),
        description="Deletes every row of the anonId in the project, rollups included, in one transaction; "
        "the stats read afterwards are those of a visitor who never came.",
    )
    def delete(self, request, project_id: str, anon_id: str):
        project = get_project(project_id=project_id)
        erased = services.erase_visitor(project=project, anon_id=anon_id, actor=admin_key_actor())
        return json_response(ErasureSerializer.render({"deleted": erased}))


class ExportView(AdminApiView):
    def perform_content_negotiation(self, request, force=False):
        # `?format=csv` is this view's own choice; DRF would read it as a renderer and 404.
        return super().perform_content_negotiation(request, force=True)

    @admin_operation(
        operation_id="exportRange",
        parameters=(
            OpenApiParameter("kind", str, enum=[*ExportKind, ""], description="Default (also when empty): events."),
            OpenApiParameter(
                "from",
                str,
                description="ISO 8601 date or datetime, in the project's time zone without an offset; "
                "default: 7 days ago.",
            ),
            OpenApiParameter(
                "to",
                str,
                description="ISO 8601 date (that whole day of the project's time zone) or datetime; "
                "default: the end of today.",
            ),
            OpenApiParameter("format", str, enum=[*ExportFormat, ""], description="Default (also when empty): ndjson."),
        ),
        success={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR, description="One JSON object a row."),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="A header line, then a line a row."),
        },
        errors=(400, 404),
        description="The project's events or movement samples that happened in the range, or its sessions "
        f"active in it, streamed in constant memory. {RANGE_ERRORS}",
    )
    def get(self, request, project_id: str):
        project = get_project(project_id=project_id)
        kind = parse_choice("kind", request.GET.get("kind"), ExportKind)
        output = parse_choice("format", request.GET.get("format"), ExportFormat)
        time_range = parse_range(
            request.GET.get("from"), request.GET.get("to"), now=timezone.now(), time_zone=project.time_zone
        )
        services.record_export(
            project=project, kind=kind, time_range=time_range, output=output, actor=admin_key_actor(), via="api"
        )
        rows = selectors.export_rows(project_id=project.id, kind=kind, time_range=time_range)
        return streamed(
            encode(output, selectors.TABLES[kind].columns, rows),
            content_type=output.content_type,
            filename=f"{kind}-{time_range.start:%Y%m%d}-{time_range.end:%Y%m%d}.{output}",
        )
