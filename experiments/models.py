import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from analytics.errors import ApiError
from experiments.stats import DEFAULT_MDE, SEQUENTIAL_TUNING
from experiments.validation import (
    KEY_REGEX,
    KEY_RULE,
    MAX_ANON_ID_LENGTH,
    MAX_GOAL_LENGTH,
    MAX_SEQUENTIAL_TUNING,
    WEIGHT_TOTAL,
    clean_mde,
)
from projects.models import Project

key_validator = RegexValidator(KEY_REGEX, message=f"Use {KEY_RULE}.")


def mde_validator(value: float) -> None:
    """The API's rule for mde, for the Django admin's form."""
    try:
        clean_mde(value)
    except ApiError as exc:
        raise ValidationError(f"The minimum detectable effect {exc.message.partition(': ')[2]}.") from None


class Experiment(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        STOPPED = "stopped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="experiments")
    key = models.CharField(
        max_length=64, validators=[key_validator], help_text="Used by the SDK in /v1/experiments/<key>/…"
    )
    name = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sequential_tuning = models.PositiveIntegerField(
        "sequential tuning (N*)",
        default=SEQUENTIAL_TUNING,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_SEQUENTIAL_TUNING)],
        help_text="Total exposures at which the sequential interval is tightest: about where you expect to decide.",
    )
    mde = models.FloatField(
        "minimum detectable effect",
        default=DEFAULT_MDE,
        validators=[mde_validator],
        help_text="The relative change of the control's rate the sample size is planned for; 0.1 means 10%.",
    )
    primary_goal = models.CharField(
        max_length=MAX_GOAL_LENGTH,
        null=True,
        blank=True,
        default=None,
        help_text="The goal the experiment is decided on; listed first on the results page. Empty: none.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(sequential_tuning__gt=0), name="experiment_tuning_positive"),
            models.CheckConstraint(condition=models.Q(mde__gt=0), name="experiment_mde_positive"),
            models.UniqueConstraint(
                fields=["project", "key"],
                name="experiment_key_unique_in_project",
                violation_error_message="This project already has an experiment with this key.",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.key


class Variant(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    key = models.CharField(max_length=64, validators=[key_validator])
    weight = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(WEIGHT_TOTAL)], help_text="Percent of new visitors; all add up to 100."
    )
    # The variant at the lowest position is the control.
    position = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "key"],
                name="variant_key_unique_in_experiment",
                violation_error_message="Variant keys must differ within an experiment.",
            )
        ]

    def __str__(self) -> str:
        return self.key


class Assignment(models.Model):
    """The exposure: the variant an anonId was given, recorded once, the first time."""

    # The project is repeated from the experiment so every query can be scoped by tenant, and
    # so the table can be distributed by project (Citus) with it in the unique key and, in the
    # database, the primary key (migration 0003). Its own index is left out: the unique key
    # starts with it.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assignments")
    # RESTRICT: a variant that people were shown is kept while its experiment exists.
    variant = models.ForeignKey(Variant, on_delete=models.RESTRICT, related_name="assignments")
    anon_id = models.CharField(max_length=MAX_ANON_ID_LENGTH)
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "experiment", "anon_id"], name="assignment_once_per_anon_id")
        ]

    def __str__(self) -> str:
        return f"{self.anon_id} saw {self.variant}"


class Conversion(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="conversions")
    anon_id = models.CharField(max_length=MAX_ANON_ID_LENGTH)
    goal = models.CharField(max_length=MAX_GOAL_LENGTH)
    converted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "experiment", "anon_id", "goal"], name="conversion_once_per_goal"
            )
        ]

    def __str__(self) -> str:
        return f"{self.anon_id} reached {self.goal}"
