from django.core.management.base import BaseCommand, CommandError

from analytics.errors import ApiError
from projects.selectors import get_project_by_id_or_name
from rights.services import erase_visitor


class Command(BaseCommand):
    help = (
        "Erase one visitor of a project: every session, event, movement sample, experiment exposure "
        "and conversion of the anonId, and their counts in the dashboard's rollups, in one transaction."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", help="project id or name")
        parser.add_argument("anon_id", help="the visitor's anonId, as the SDK sent it")

    def handle(self, *args, project: str, anon_id: str, **options) -> None:
        try:
            target = get_project_by_id_or_name(ref=project)
        except ApiError as exc:
            raise CommandError(exc.message) from None
        erased = erase_visitor(project=target, anon_id=anon_id, actor="command line")
        self.stdout.write(
            f"Erased from {target.name} ({target.id}): {erased.sessions} sessions, {erased.events} events, "
            f"{erased.movement} movement samples, {erased.assignments} assignments, "
            f"{erased.conversions} conversions."
        )
