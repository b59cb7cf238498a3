import uuid

from django.db import models
from django.utils import timezone


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    origins = models.JSONField(default=list, blank=True, help_text="Allowed browser origins, scheme://host[:port].")
    filter_bots = models.BooleanField(
        default=True,
        help_text="Answer requests from crawlers, bots and headless browsers without storing them (counted per hour).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

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
