from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max, Min
from django.utils import timezone

from ingest import services
from ingest.models import Event


class Command(BaseCommand):
    help = (
        "Recompute the dashboard's hourly rollups from the raw events: after upgrading "
        "a database that already holds events, or after writing events around the ingest statement."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None, help="only the last N days (default: all events)")

    def handle(self, *args, days: int | None, **options) -> None:
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        span = Event.objects.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
        if span["first"] is None:
            self.stdout.write("No events: nothing to rebuild.")
            return
        start = span["first"] if days is None else max(span["first"], timezone.now() - timedelta(days=days))
        hours = services.rebuild_rollups(start=start, end=span["last"] + timedelta(microseconds=1))
        self.stdout.write(f"Rebuilt the rollups of {hours} hours from {start:%Y-%m-%d %H}:00 UTC on.")
        self.stdout.write(services.describe_sealed(services.seal_due_days(now=timezone.now())))
