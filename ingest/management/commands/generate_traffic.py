import time
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from analytics.errors import ApiError
from ingest import services
from ingest.synthetic import generate_traffic
from projects.selectors import get_project_by_id_or_name


class Command(BaseCommand):
    help = (
        "Generate synthetic traffic for a project: sessions, page views, custom events, clicks, "
        "moves and scrolls spread over the last N days, stored through the ingest write path."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", help="project id or name")
        parser.add_argument("--days", type=int, default=30, help="spread over this many days up to now")
        parser.add_argument("--events", type=int, default=100_000, help="how many events to write")
        parser.add_argument(
            "--samples-per-view",
            type=float,
            default=4.0,
            help="average movement samples (moves, clicks, scrolls) per page view",
        )
        parser.add_argument("--seed", type=int, default=None, help="for the same traffic every time")

    def handle(self, *args, project: str, days: int, events: int, samples_per_view: float, seed, **options):
        if days < 1 or events < 1 or samples_per_view < 0:
            raise CommandError("--days and --events must be at least 1, --samples-per-view at least 0.")
        try:
            target = get_project_by_id_or_name(ref=project)
        except ApiError as exc:
            raise CommandError(exc.message) from None
        end = datetime.now(UTC)
        started = time.monotonic()
        totals = generate_traffic(
            project_id=target.id,
            start=end - timedelta(days=days),
            end=end,
            events=events,
            seed=seed,
            samples_per_view=samples_per_view,
        )
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Wrote {totals.events} events, {totals.sessions} sessions and {totals.samples} movement "
            f"samples for {target.name} ({target.id}) over {days} days in {elapsed:.1f} s "
            f"({totals.events / elapsed:,.0f} events/s)."
        )
        self.stdout.write(services.describe_sealed(services.seal_due_days(now=datetime.now(UTC), project_id=target.id)))
