import uuid
from functools import cache
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone

# Ten years: longer is a typo, not a policy (and keeps the cutoff arithmetic in range).
RETENTION_DAYS_MAX = 3650
DEFAULT_TIME_ZONE = "UTC"
TIME_ZONE_MAX_LENGTH = 64


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA time zone names Python's zoneinfo knows; read once, as listing them walks the
    whole time zone database."""
    return frozenset(available_timezones())


def validate_time_zone(name: str) -> None:
    if name not in time_zone_names():
        raise ValidationError("Not an IANA time zone name, such as Europe/Berlin or UTC.", code="invalid")


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    origins = models.JSONField(default=list, blank=True, help_text="Allowed browser origins, scheme://host[:port].")
    filter_bots = models.BooleanField(
        default=True,
        help_text="Answer requests from crawlers, bots and headless browsers without storing them (counted per hour).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(RETENTION_DAYS_MAX)],
        help_text="Days this project's raw data is kept; empty: RETENTION_DAYS; 0: kept forever.",
    )
    time_zone = models.CharField(
        max_length=TIME_ZONE_MAX_LENGTH,
        default=DEFAULT_TIME_ZONE,
        validators=[validate_time_zone],
        help_text="IANA name, e.g. Europe/Berlin: the reports' days, and their Today, are days of this zone.",
    )

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    key = models.CharField(max_length=64, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.key[:10]}… ({self.label or 'no label'})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class FilteredBotHour(models.Model):
    """How many public requests of a project were refused as bots in one UTC hour (by arrival);
    nothing of the requests themselves is kept."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    requests = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "hour"], name="filtered_bot_hour_unique")]

    def __str__(self) -> str:
        return f"{self.requests} bot request(s) at {self.hour:%Y-%m-%d %H}:00 UTC"


class AuditEntry(models.Model):
    """Who did what to a project's data or its retention, and how much it touched.

    Never the data itself: an erased or handed-over visitor is named by `subject_digest`, a
    digest keyed with SECRET_KEY, which tells whether a given anonId was the subject (to
    answer "was my erasure done?") but cannot be turned back into one.
    """

    class Action(models.TextChoices):
        ERASE_VISITOR = "erase_visitor"
        HAND_OVER = "hand_over"
        EXPORT = "export"
        RETENTION_CHANGE = "retention_change"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=200, help_text='A staff user, "admin key <fingerprint>" or "command line".')
    action = models.CharField(max_length=32, choices=Action.choices)
    # No constraint: the trail outlives nothing it names, but must not stop a project's removal.
    project = models.ForeignKey(Project, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    subject_digest = models.CharField(max_length=64, blank=True, default="")
    details = models.JSONField(default=dict, blank=True, help_text="Counts, range, format, old and new values.")

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor}: {self.action}"
