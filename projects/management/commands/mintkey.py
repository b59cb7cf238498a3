from django.core.management.base import BaseCommand, CommandError

from analytics.errors import ApiError
from projects import selectors, services


class Command(BaseCommand):
    help = "Mint a public browser key for a project (given by id or name)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("project")
        parser.add_argument("--label", default="")

    def handle(self, *args, project: str, label: str, **options) -> None:
        try:
            target = selectors.get_project_by_id_or_name(ref=project)
            api_key = services.mint_key(project=target, label=label)
        except ApiError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Minted key {api_key.key} for project {target.name} ({target.id})")
