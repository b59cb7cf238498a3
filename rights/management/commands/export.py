import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analytics.errors import ApiError
from insights.time_ranges import parse_range
from projects.selectors import get_project_by_id_or_name
from rights import selectors, services
from rights.encoding import ExportFormat, encode
from rights.selectors import TABLES, ExportKind


class Command(BaseCommand):
    help = (
        "Export a project's events or movement samples that happened in a range, or its sessions active "
        "in it, as NDJSON or CSV, to stdout or a file; streamed, in constant memory."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", help="project id or name")
        parser.add_argument("--kind", choices=list(ExportKind), default=ExportKind.EVENTS)
        parser.add_argument("--from", dest="start", help="ISO 8601 date or datetime; default: 7 days ago")
        parser.add_argument("--to", dest="end", help="ISO 8601 date (that whole day) or datetime; default: today")
        parser.add_argument("--format", dest="output", choices=list(ExportFormat), default=ExportFormat.NDJSON)
        parser.add_argument("--output", "-o", dest="path", help="a file to write; default: stdout")

    def handle(self, *args, project: str, kind: str, start, end, output: str, path, **options) -> None:
        try:
            target = get_project_by_id_or_name(ref=project)
            time_range = parse_range(start, end, now=timezone.now(), time_zone=target.time_zone)
        except ApiError as exc:
            raise CommandError(exc.message) from None
        kind, output = ExportKind(kind), ExportFormat(output)
        services.record_export(
            project=target, kind=kind, time_range=time_range, output=output, actor="command line", via="command"
        )
        rows = selectors.export_rows(project_id=target.id, kind=kind, time_range=time_range)
        pieces = encode(output, TABLES[kind].columns, rows)
        if path is None:
            # Bytes straight to stdout: self.stdout would decode and re-encode every piece.
            sink = sys.stdout.buffer
            for piece in pieces:
                sink.write(piece)
            sink.flush()
            return
        with open(path, "wb") as file:
            for piece in pieces:
                file.write(piece)
        self.stderr.write(f"Wrote {kind} of {target.name} to {path}.")
