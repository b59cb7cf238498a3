"""Reads of experiments, always scoped by the project the caller is entitled to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef

from analytics.errors import ApiError, not_found
from experiments import stats
from experiments.models import Assignment, Conversion, Experiment, Variant
from experiments.validation import is_valid_key

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class Comparison:
    """A variant against the control (see experiments.stats for each number)."""

    uplift: float | None
    p_value: float | None
    ci95: tuple[float, float] | None
    chance_to_beat_control: float | None


@dataclass(frozen=True)
class VariantResult:
    key: str
    weight: int
    exposures: int
    conversions: int
    rate: float
    # The 95% interval of the rate alone (Wilson), for the admin's chart; None without exposures.
    rate_ci95: tuple[float, float] | None
    # None for the control, which is what the others are compared with.
    comparison: Comparison | None


@dataclass(frozen=True)
class ExperimentResults:
    experiment: Experiment
    goal: str | None
    variants: list[VariantResult]
    srm_p_value: float | None

    @property
    def srm_flagged(self) -> bool:
        return self.srm_p_value is not None and self.srm_p_value < SRM_THRESHOLD


def _no_such_experiment(key: str) -> ApiError:
    return not_found("experiment_not_found", f"This project has no experiment with key {key[:64]!r}.")


def get_experiment(*, project_id: uuid.UUID, key: str) -> Experiment:
    """The project's experiment with this key; 404 experiment_not_found otherwise."""
    # A key that cannot exist is answered without a query (it may hold NUL, which Postgres refuses).
    experiment = Experiment.objects.filter(project_id=project_id, key=key).first() if is_valid_key(key) else None
    if experiment is None:
        raise _no_such_experiment(key)
    return experiment


def get_experiment_with_variants(*, project_id: uuid.UUID, key: str) -> tuple[Experiment, list[Variant]]:
    """The experiment and its variants, control first, in one query (for the public calls)."""
    variants = (
        list(
            Variant.objects.filter(experiment__project_id=project_id, experiment__key=key)
            .select_related("experiment")
            .order_by("position")
        )
        if is_valid_key(key)
        else []
    )
    if not variants:  # an experiment always has variants
        raise _no_such_experiment(key)
    return variants[0].experiment, variants


def _compare(*, conversions: int, exposures: int, control_conversions: int, control_exposures: int) -> Comparison:
    counts = {
        "conversions": conversions,
        "exposures": exposures,
        "control_conversions": control_conversions,
        "control_exposures": control_exposures,
    }
    return Comparison(
        uplift=stats.relative_uplift(**counts),
        p_value=stats.two_proportion_p_value(**counts),
        ci95=stats.difference_interval(**counts),
        chance_to_beat_control=stats.chance_to_beat_control(**counts),
    )


def experiment_results(*, project_id: uuid.UUID, experiment_key: str, goal: str | None) -> ExperimentResults:
    """Exposures, conversions and their statistics per variant, from one aggregate query.

    A conversion counts once per exposed anonId: converted on `goal`, or on any goal when
    goal is None.
    """
    experiment = get_experiment(project_id=project_id, key=experiment_key)
    converted = Conversion.objects.filter(
        project_id=project_id, experiment_id=experiment.id, anon_id=OuterRef("anon_id")
    )
    if goal is not None:
        converted = converted.filter(goal=goal)
    tallies = {
        variant_id: (exposures, conversions)
        for variant_id, exposures, conversions in Assignment.objects.filter(
            project_id=project_id, experiment_id=experiment.id
        )
        .values_list("variant_id")
        .annotate(exposures=Count("id"), conversions=Count("id", filter=Exists(converted)))
        .order_by()
    }
    variants = list(experiment.variants.all())
    counted = [(variant, *tallies.get(variant.id, (0, 0))) for variant in variants]
    _, control_exposures, control_conversions = counted[0]
    results = [
        VariantResult(
            key=variant.key,
            weight=variant.weight,
            exposures=exposures,
            conversions=conversions,
            rate=stats.conversion_rate(conversions, exposures),
            rate_ci95=stats.rate_interval(conversions, exposures),
            comparison=None
            if index == 0
            else _compare(
                conversions=conversions,
                exposures=exposures,
                control_conversions=control_conversions,
                control_exposures=control_exposures,
            ),
        )
        for index, (variant, exposures, conversions) in enumerate(counted)
    ]
    return ExperimentResults(
        experiment=experiment,
        goal=goal,
        variants=results,
        srm_p_value=stats.sample_ratio_p_value(
            [result.exposures for result in results], [result.weight for result in results]
        ),
    )


def goals_seen(*, project_id: uuid.UUID, experiment_id: uuid.UUID) -> list[str]:
    """The goals this experiment has conversions for, alphabetically."""
    return list(
        Conversion.objects.filter(project_id=project_id, experiment_id=experiment_id)
        .values_list("goal", flat=True)
        .distinct()
        .order_by("goal")
    )
