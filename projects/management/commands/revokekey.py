from django.core.management.base import BaseCommand, CommandError

from analytics.errors import ApiError
from projects import services


class Command(BaseCommand):
    help = "Revoke a public browser key; it is refused from the next request on."

    def add_arguments(self, parser) -> None:
        parser.add_argument("key")

    def handle(self, *args, key: str, **options) -> None:
        try:
            api_key = services.revoke_key_by_value(key=key)
        except ApiError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Revoked key {api_key.key[:8]}… of project {api_key.project.name}")
