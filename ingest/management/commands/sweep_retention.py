from django.conf import settings
from django.core.management.base import BaseCommand

from ingest import retention


class Command(BaseCommand):
    help = "Delete events, movement samples and sessions older than the retention period."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None, help="Defaults to RETENTION_DAYS.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would go, delete nothing.")

    def handle(self, *args, days: int | None, dry_run: bool, **options) -> None:
        days = settings.RETENTION_DAYS if days is None else days
        if days <= 0:
            self.stdout.write("Retention is off (0 days): nothing deleted.")
            return
        counts = retention.sweep_retention(days=days, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        summary = ", ".join(f"{count} {table}" for table, count in counts.items())
        self.stdout.write(f"{verb} rows older than {days} days: {summary}")
