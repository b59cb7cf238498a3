from django.core.management.base import BaseCommand, CommandError

from analytics.errors import ApiError
from projects import selectors, services
from projects.models import Project


class Command(BaseCommand):
    help = "Create a project with its allowed browser origins."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--origin", action="append", default=[], dest="origins", metavar="URL")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="when a project of that name exists, leave it as it is and print it (for scripts run twice)",
        )

    def handle(self, *args, name: str, origins: list[str], if_missing: bool, **options) -> None:
        if if_missing:
            existing = selectors.oldest_project_named(name=name.strip())
            if existing is not None:
                self.stdout.write(f"Project {existing.name} ({existing.id}) exists, origins: {_origins(existing)}")
                return
        try:
            project = services.create_project(name=name, origins=origins)
        except ApiError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Created project {project.name} ({project.id}), origins: {_origins(project)}")


def _origins(project: Project) -> str:
    return ", ".join(project.origins) or "none"
