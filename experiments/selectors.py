"""Reads of experiments, always scoped by the project the caller is entitled to."""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, Min, OuterRef, Subquery
from django.db.models.functions import TruncDate

from analytics.errors import ApiError, not_found
from analytics.replica import read_alias
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
    # Always valid, however often it is looked at; the others only at a planned end.
    sequential: stats.Sequential | None


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
class SampleSize:
    """The exposures per variant the experiment's mde needs, and how far the smallest arm is."""

    mde: float
    required_per_variant: int | None
    progress: float | None
    # The smallest exposures of an arm that is assigned (weight > 0), which progress measures.
    smallest_exposures: int


@dataclass(frozen=True)
class ExperimentResults:
    experiment: Experiment
    goal: str | None
    variants: list[VariantResult]
    srm_p_value: float | None
    sample_size: SampleSize

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


Counts = Mapping[int, tuple[int, int]]


def _compare(
    *, conversions: int, exposures: int, control_conversions: int, control_exposures: int, tuning: int
) -> Comparison:
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
        sequential=stats.sequential_difference(**counts, tuning=tuning),
    )


def _sample_size(experiment: Experiment, variants: list[VariantResult]) -> SampleSize:
    control = variants[0]
    # A weight-0 arm gets no new exposures, so waiting for it would never end.
    smallest = min(variant.exposures for variant in variants if variant.weight > 0)
    # None while the control converts nobody (a relative change of 0 is 0).
    required = stats.sample_size(control_rate=control.rate, mde=experiment.mde)
    return SampleSize(
        mde=experiment.mde,
        required_per_variant=required,
        progress=stats.sample_progress(smallest_exposures=smallest, required_per_variant=required),
        smallest_exposures=smallest,
    )


def results_from_counts(
    *, experiment: Experiment, variants: list[Variant], counts: Counts, goal: str | None
) -> ExperimentResults:
    """The statistics of every variant from its (exposures, conversions), keyed by variant id.

    A variant missing from counts has neither. The control is variants[0].
    """
    counted = [(variant, *counts.get(variant.id, (0, 0))) for variant in variants]
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
                tuning=experiment.sequential_tuning,
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
        sample_size=_sample_size(experiment, results),
    )


def _exposures(*, project_id: uuid.UUID, experiment_id: uuid.UUID):
    return Assignment.objects.using(read_alias()).filter(project_id=project_id, experiment_id=experiment_id)


def experiment_results(*, project_id: uuid.UUID, experiment_key: str, goal: str | None) -> ExperimentResults:
    """Exposures, conversions and their statistics per variant, from one aggregate query.

    A conversion counts once per exposed anonId: converted on `goal`, or on any goal when
    goal is None.
    """
    experiment = get_experiment(project_id=project_id, key=experiment_key)
    converted = Conversion.objects.using(read_alias()).filter(
        project_id=project_id, experiment_id=experiment.id, anon_id=OuterRef("anon_id")
    )
    if goal is not None:
        converted = converted.filter(goal=goal)
    tallies = {
        variant_id: (exposures, conversions)
        for variant_id, exposures, conversions in _exposures(project_id=project_id, experiment_id=experiment.id)
        .values_list("variant_id")
        .annotate(exposures=Count("id"), conversions=Count("id", filter=Exists(converted)))
        .order_by()
    }
    return results_from_counts(
        experiment=experiment, variants=list(experiment.variants.all()), counts=tallies, goal=goal
    )


def _variant_of_converter(*, project_id: uuid.UUID, experiment_id: uuid.UUID) -> Subquery:
    """The variant a conversion's anonId was exposed to (None for one never exposed)."""
    return Subquery(
        _exposures(project_id=project_id, experiment_id=experiment_id)
        .filter(anon_id=OuterRef("anon_id"))
        .values("variant_id")[:1]
    )


@dataclass(frozen=True)
class Goals:
    """Every goal's results, and the sequential p-values adjusted for reading them all."""

    results: list[ExperimentResults]
    # holm[g][v]: variant v's sequential p-value on goal g, Holm-adjusted across the goals
    # (variant by variant); None for the control and where undefined. Empty with one goal.
    holm: list[list[float | None]]


def goals_from_results(results: list[ExperimentResults]) -> Goals:
    """The goals' results with their Holm adjustment (none for a single goal)."""
    if len(results) < 2:
        return Goals(results=results, holm=[])
    adjusted: list[list[float | None]] = [[None] * len(goal.variants) for goal in results]
    for index in range(1, len(results[0].variants)):
        comparisons = [goal.variants[index].comparison for goal in results]
        p_values = [comparison.sequential.p_value if comparison.sequential else None for comparison in comparisons]
        for goal_index, p_value in enumerate(stats.holm(p_values)):
            adjusted[goal_index][index] = p_value
    return Goals(results=results, holm=adjusted)


def results_by_goal(*, experiment: Experiment) -> Goals:
    """The results of every goal exposed visitors converted on, in two aggregate queries.

    The primary goal comes first, even before anyone converts on it; the others follow
    alphabetically.
    """
    project_id, experiment_id = experiment.project_id, experiment.id
    exposures = dict(
        _exposures(project_id=project_id, experiment_id=experiment_id)
        .values_list("variant_id")
        .annotate(exposures=Count("id"))
        .order_by()
    )
    conversions: dict[str, dict[int, int]] = defaultdict(dict)
    rows = (
        Conversion.objects.using(read_alias())
        .filter(project_id=project_id, experiment_id=experiment_id)
        .annotate(variant_id=_variant_of_converter(project_id=project_id, experiment_id=experiment_id))
        .filter(variant_id__isnull=False)
        .values_list("goal", "variant_id")
        .annotate(converted=Count("id"))
        .order_by()
    )
    # (experiment, anonId, goal) is unique, so counting rows counts distinct converted anonIds.
    for goal, variant_id, converted in rows:
        conversions[goal][variant_id] = converted
    goals = sorted(conversions, key=lambda goal: (goal != experiment.primary_goal, goal))
    if experiment.primary_goal is not None and experiment.primary_goal not in conversions:
        goals.insert(0, experiment.primary_goal)
    variants = list(experiment.variants.all())
    results = [
        results_from_counts(
            experiment=experiment,
            variants=variants,
            counts={
                variant_id: (count, conversions[goal].get(variant_id, 0)) for variant_id, count in exposures.items()
            },
            goal=goal,
        )
        for goal in goals
    ]
    return goals_from_results(results)


def visitors_in_more_than_one_variant(*, project_id: uuid.UUID, experiment_id: uuid.UUID) -> int:
    """How many anonIds have exposures in two or more variants of the experiment.

    0 by construction (one exposure per anonId, unique in the database); counted all the same,
    so that the page reports what the data says rather than what the design promises.
    """
    return (
        _exposures(project_id=project_id, experiment_id=experiment_id)
        .values("anon_id")
        .annotate(variants=Count("variant_id", distinct=True))
        .filter(variants__gt=1)
        .count()
    )


@dataclass(frozen=True)
class TimelineDay:
    """The experiment as it stood at the end of one day of its project's time zone: every
    number cumulative."""

    day: datetime.date
    results: ExperimentResults


def _per_day(rows: Iterable[tuple[int, datetime.date, int]]) -> dict[datetime.date, dict[int, int]]:
    days: dict[datetime.date, dict[int, int]] = defaultdict(dict)
    for variant_id, day, count in rows:
        days[day][variant_id] = count
    return days


def timeline(*, experiment: Experiment, goal: str | None, until: datetime.date) -> list[TimelineDay]:
    """A day per point from the first exposure's day to `until`, cumulative counts each; days
    of the project's time zone, as on its traffic dashboard.

    An anonId counts as converted from the day of its first conversion on `goal` (any goal when
    None). Two aggregate queries; an experiment nobody saw has no days.
    """
    project_id, experiment_id = experiment.project_id, experiment.id
    zone = ZoneInfo(experiment.project.time_zone)
    exposed = _exposures(project_id=project_id, experiment_id=experiment_id)
    exposures = _per_day(
        exposed.annotate(day=TruncDate("assigned_at", tzinfo=zone))
        .values_list("variant_id", "day")
        .annotate(count=Count("id"))
        .order_by()
    )
    if not exposures:
        return []
    conversions = Conversion.objects.using(read_alias()).filter(project_id=project_id, experiment_id=experiment_id)
    if goal is not None:
        conversions = conversions.filter(goal=goal)
    first_conversion = Subquery(
        conversions.filter(anon_id=OuterRef("anon_id"))
        .values("anon_id")
        .annotate(first=Min("converted_at"))
        .values("first")
    )
    converted = _per_day(
        exposed.annotate(first=first_conversion)
        .filter(first__isnull=False)
        .annotate(day=TruncDate("first", tzinfo=zone))
        .values_list("variant_id", "day")
        .annotate(count=Count("id"))
        .order_by()
    )
    variants = list(experiment.variants.all())
    running = {variant.id: [0, 0] for variant in variants}
    days = []
    day = min(exposures)
    while day <= until:
        for variant_id, count in exposures.get(day, {}).items():
            running[variant_id][0] += count
        for variant_id, count in converted.get(day, {}).items():
            running[variant_id][1] += count
        counts = {variant_id: (total[0], total[1]) for variant_id, total in running.items()}
        days.append(
            TimelineDay(
                day=day,
                results=results_from_counts(experiment=experiment, variants=variants, counts=counts, goal=goal),
            )
        )
        day += datetime.timedelta(days=1)
    return days


@dataclass(frozen=True)
class Pace:
    """How fast exposures come, and when the smallest arm reaches the planned sample at that pace."""

    # Days from the first exposure's to today, both counted; 0 before any exposure.
    days_run: int
    exposures_per_day: float | None
    smallest_per_day: float | None
    days_remaining: int | None


def pace(*, results: ExperimentResults, days_run: int) -> Pace:
    if not days_run:
        return Pace(days_run=0, exposures_per_day=None, smallest_per_day=None, days_remaining=None)
    size = results.sample_size
    smallest_per_day = size.smallest_exposures / days_run
    return Pace(
        days_run=days_run,
        exposures_per_day=sum(variant.exposures for variant in results.variants) / days_run,
        smallest_per_day=smallest_per_day,
        days_remaining=stats.days_remaining(
            required_per_variant=size.required_per_variant,
            smallest_exposures=size.smallest_exposures,
            smallest_per_day=smallest_per_day,
        ),
    )
