from django.core.management.base import BaseCommand, CommandError

from analytics.errors import ApiError
from projects import services


class Command(BaseCommand):
    help = "Create a project with its allowed browser origins."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--origin", action="append", default=[], dest="origins", metavar="URL")

    def handle(self, *args, name: str, origins: list[str], **options) -> None:
        try:
            project = services.create_project(name=name, origins=origins)
        except ApiError as exc:
            raise CommandError(exc.message) from None
        origin_list = ", ".join(project.origins) or "none"
        self.stdout.write(f"Created project {project.name} ({project.id}), origins: {origin_list}")
