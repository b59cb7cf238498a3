"""Writes of experiments: creation, status, exposures (assignments) and conversions."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from analytics.errors import ApiError, invalid_field
from experiments import selectors
from experiments.bucketing import bucket_of, variant_for_bucket
from experiments.models import Assignment, Conversion, Experiment, Variant
from experiments.stats import DEFAULT_MDE, SEQUENTIAL_TUNING
from experiments.validation import clean_key, clean_mde, clean_primary_goal, clean_sequential_tuning, validate_variants
from projects.models import Project
from projects.services import count_filtered_bot

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2000


class ConversionOutcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    NOT_EXPOSED = "not_exposed"
    BOT = "bot"

    @property
    def recorded(self) -> bool:
        return self is ConversionOutcome.RECORDED

    @property
    def reason(self) -> str | None:
        """Why nothing was recorded; None when it was."""
        return None if self.recorded else self.value


def _clean_text(value: str, *, field: str, max_length: int) -> str:
    value = value.strip()
    if len(value) > max_length:
        raise invalid_field(field, f"must be at most {max_length} characters")
    return value


def create_experiment(
    *,
    project: Project,
    key: str,
    variants: list[tuple[Any, Any]],
    name: str = "",
    description: str = "",
    sequential_tuning: Any = SEQUENTIAL_TUNING,
    mde: Any = DEFAULT_MDE,
    primary_goal: Any = None,
) -> Experiment:
    """A running experiment with its variants, given as (key, weight) pairs, control first.

    sequential_tuning (N* of the sequential test), mde (the relative change the sample size is
    planned for) and primary_goal (a goal name or None) are checked like the rest.
    409 experiment_exists when the project already has an experiment with this key.
    """
    key = clean_key(key)
    specs = validate_variants(variants)
    name = _clean_text(name, field="name", max_length=MAX_NAME_LENGTH)
    description = _clean_text(description, field="description", max_length=MAX_DESCRIPTION_LENGTH)
    settings = {
        "sequential_tuning": clean_sequential_tuning(sequential_tuning),
        "mde": clean_mde(mde),
        "primary_goal": clean_primary_goal(primary_goal),
    }
    try:
        with transaction.atomic():
            experiment = Experiment.objects.create(
                project=project, key=key, name=name, description=description, **settings
            )
            Variant.objects.bulk_create(
                Variant(experiment=experiment, key=spec.key, weight=spec.weight, position=position)
                for position, spec in enumerate(specs)
            )
    except IntegrityError:
        # The unique (project, key) constraint decides, so two racing creations cannot both win.
        raise ApiError(409, "experiment_exists", f"This project already has an experiment with key {key!r}.") from None
    logger.info("created experiment %s (%s) in project %s", key, experiment.id, project.id)
    return experiment


def set_status(*, experiment: Experiment, status: Experiment.Status) -> Experiment:
    """Stop or restart: a stopped experiment answers its control and records no exposure."""
    if experiment.status != status:
        experiment.status = status
        experiment.save(update_fields=["status"])
        logger.info("experiment %s of project %s is now %s", experiment.key, experiment.project_id, status)
    return experiment


def assign(*, project_id: uuid.UUID, experiment_key: str, anon_id: str, bot: bool = False) -> str:
    """The key of the anonId's variant, recorded as its exposure the first time.

    The first answer sticks: later weight changes only affect anonIds not seen before.
    Concurrent first requests insert at most one row (the unique key and ON CONFLICT DO
    NOTHING) and both answer what was stored. A bot that the project filters (`bot`) is
    shown the control and only counted.
    """
    experiment, variants = selectors.get_experiment_with_variants(project_id=project_id, key=experiment_key)
    if bot:
        count_filtered_bot(project_id=project_id, received_at=timezone.now())
        return variants[0].key
    if experiment.status == Experiment.Status.STOPPED:
        return variants[0].key
    exposure = Assignment.objects.filter(
        project_id=project_id, experiment_id=experiment.id, anon_id=anon_id
    ).values_list("variant_id", flat=True)
    variant_id = exposure.first()
    if variant_id is None:
        chosen = variant_for_bucket(variants=variants, bucket=bucket_of(experiment_key=experiment.key, anon_id=anon_id))
        Assignment.objects.bulk_create(
            [Assignment(project_id=project_id, experiment=experiment, variant=chosen, anon_id=anon_id)],
            ignore_conflicts=True,
        )
        variant_id = exposure.get()
    return next(variant.key for variant in variants if variant.id == variant_id)


def _record_conversion_if_exposed(*, project_id: uuid.UUID, experiment_id: uuid.UUID, anon_id: str, goal: str) -> bool:
    """Insert the conversion when the anonId was exposed and it is not stored yet; True if inserted.

    One statement, so the common case (a first conversion) costs no separate exposure check.
    """
    field = Conversion._meta.get_field
    sql = (
        f"INSERT INTO {Conversion._meta.db_table} (project_id, experiment_id, anon_id, goal, converted_at) "
        f"SELECT %s, %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM {Assignment._meta.db_table} "
        # KEY SHARE: an erasure deleting this exposure right now is waited for (and then the
        # conversion is not recorded), rather than leaving a conversion of an erased visitor.
        "WHERE project_id = %s AND experiment_id = %s AND anon_id = %s FOR KEY SHARE) "
        "ON CONFLICT DO NOTHING RETURNING id"
    )
    project = field("project").get_db_prep_value(project_id, connection)
    experiment = field("experiment").get_db_prep_value(experiment_id, connection)
    now = field("converted_at").get_db_prep_value(timezone.now(), connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [project, experiment, anon_id, goal, now, project, experiment, anon_id])
        return cursor.fetchone() is not None


@dataclass(frozen=True)
class ErasedExperimentData:
    assignments: int
    conversions: int


def erase_visitor_data(*, project_id: uuid.UUID, anon_id: str) -> ErasedExperimentData:
    """Delete the anonId's exposures and conversions in every experiment of the project.

    Found through the unique keys, one experiment at a time (a project has few). Runs in the
    caller's transaction when there is one.
    """
    experiments = Experiment.objects.filter(project_id=project_id).values("id")
    scope = {"project_id": project_id, "experiment_id__in": experiments, "anon_id": anon_id}
    with transaction.atomic():
        # Exposures first: a conversion being recorded holds its exposure (KEY SHARE) and is
        # waited for, so none can slip in behind the conversions' delete.
        assignments = Assignment.objects.filter(**scope).delete()[0]
        conversions = Conversion.objects.filter(**scope).delete()[0]
    return ErasedExperimentData(assignments=assignments, conversions=conversions)


def convert(
    *, project_id: uuid.UUID, experiment_key: str, anon_id: str, goal: str, bot: bool = False
) -> ConversionOutcome:
    """Record that an exposed anonId reached `goal`, once per (experiment, anonId, goal).

    An anonId that was never exposed counts nowhere. Conversions of people exposed while the
    experiment ran are still recorded after it is stopped. A bot that the project filters
    (`bot`) is only counted.
    """
    experiment = selectors.get_experiment(project_id=project_id, key=experiment_key)
    if bot:
        count_filtered_bot(project_id=project_id, received_at=timezone.now())
        return ConversionOutcome.BOT
    if _record_conversion_if_exposed(project_id=project_id, experiment_id=experiment.id, anon_id=anon_id, goal=goal):
        return ConversionOutcome.RECORDED
    exposed = Assignment.objects.filter(project_id=project_id, experiment_id=experiment.id, anon_id=anon_id).exists()
    return ConversionOutcome.DUPLICATE if exposed else ConversionOutcome.NOT_EXPOSED
