from django.conf import settings
from django.core.management.base import BaseCommand

from ingest import retention


class Command(BaseCommand):
    help = (
        "Delete events, movement samples and sessions older than the retention period: each "
        "project's own, or --days (default RETENTION_DAYS) for projects without one."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None, help="Defaults to RETENTION_DAYS.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would go, delete nothing.")

    def handle(self, *args, days: int | None, dry_run: bool, **options) -> None:
        days = settings.RETENTION_DAYS if days is None else days
        counts = retention.sweep_retention(days=days, dry_run=dry_run)
        if not counts:
            self.stdout.write("Retention is off (0 days) for every project: nothing deleted.")
            return
        verb = "Would delete" if dry_run else "Deleted"
        summary = ", ".join(f"{count} {table}" for table, count in counts.items())
        self.stdout.write(f"{verb} rows older than {days} days: {summary}")
