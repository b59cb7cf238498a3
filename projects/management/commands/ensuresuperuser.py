import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "admin"


class Command(BaseCommand):
    help = (
        "Create a staff superuser, or reset the password of an existing one, without questions: "
        "DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_PASSWORD and DJANGO_SUPERUSER_EMAIL, else "
        "admin/admin, which is refused with DEBUG off."
    )

    def handle(self, *args, **options) -> None:
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip() or DEFAULT_USERNAME
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "") or DEFAULT_PASSWORD
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "").strip()
        local_default = password == DEFAULT_PASSWORD
        if not settings.DEBUG:
            # Outside development the password guards every tenant's keys and data.
            if local_default:
                raise CommandError(
                    "DEBUG is off: set DJANGO_SUPERUSER_PASSWORD; the password 'admin' is for local use only."
                )
            try:
                validate_password(password)
            except ValidationError as exc:
                raise CommandError("DJANGO_SUPERUSER_PASSWORD: " + " ".join(exc.messages)) from None

        user_model = get_user_model()
        with transaction.atomic():
            user, created = user_model.objects.select_for_update().get_or_create(
                **{user_model.USERNAME_FIELD: username}
            )
            user.is_staff = user.is_superuser = user.is_active = True
            if email or created:
                user.email = email
            user.set_password(password)
            user.save()

        action = "Created" if created else "Updated (password reset)"
        shown = f"password {DEFAULT_PASSWORD!r} (local default)" if local_default else "password as given"
        self.stdout.write(f"{action} superuser {username!r}, {shown}. Log in at /admin/.")
