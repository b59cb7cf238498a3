"""Retention: raw data and its rollups older than each project's retention go, whole day
partitions first.

A project keeps its data `retention_days` (Project.retention_days; null: RETENTION_DAYS;
0: forever). A day partition is dropped only when no project whose data must stay has a row
in it; the rest of the expired rows are deleted in batches, per group of projects that share
a cutoff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Model, Q
from django.utils import timezone

from ingest import partitions
from ingest.hours import floor_hour
from ingest.models import (
    SEALED_DAY_AGGREGATES,
    BatchClaim,
    Event,
    EventKey,
    HourlyCount,
    HourlyCountDelta,
    MovementSample,
    SealedDay,
    Session,
    SessionHour,
)
from projects.models import FilteredBotHour, Project

logger = logging.getLogger(__name__)

RETENTION_BATCH = 5000


@dataclass(frozen=True)
class Group:
    """Projects that share a cutoff (None: kept forever); `projects` None means every project
    without a retention of its own, `overridden` being those with one."""

    cutoff: datetime | None
    projects: list | None
    overridden: list

    def q(self) -> Q:
        if self.projects is None:
            return ~Q(project_id__in=self.overridden)
        return Q(project_id__in=self.projects)

    def sql(self) -> tuple[str, list]:
        if self.projects is None:
            return "NOT (project_id = ANY(%s))", [self.overridden]
        return "project_id = ANY(%s)", [self.projects]


def _cutoff(days: int, now: datetime) -> datetime | None:
    # On a whole hour, so that raw events and their hourly rollups go up to the same instant.
    return floor_hour(now - timedelta(days=days)) if days > 0 else None


def retention_groups(*, days: int, now: datetime) -> list[Group]:
    """The projects grouped by cutoff: the default group (RETENTION_DAYS = `days`), then one
    per distinct retention_days of the projects that set one."""
    overrides: dict[int, list] = {}
    for project_id, own_days in Project.objects.filter(retention_days__isnull=False).values_list(
        "id", "retention_days"
    ):
        overrides.setdefault(own_days, []).append(project_id)
    overridden = [project_id for ids in overrides.values() for project_id in ids]
    groups = [Group(cutoff=_cutoff(days, now), projects=None, overridden=overridden)]
    groups += [Group(cutoff=_cutoff(own_days, now), projects=ids, overridden=[]) for own_days, ids in overrides.items()]
    return groups


def _delete_in_batches(model: type[Model], *, dry_run: bool, scope: Q, **older_than: datetime) -> int:
    """Delete matching rows a bounded batch at a time, so no delete holds locks for long.

    The time condition stays on the delete too, so Postgres prunes it to the partitions
    that can hold such rows.
    """
    matching = model.objects.filter(scope, **older_than)
    if dry_run:
        return matching.count()
    deleted = 0
    while True:
        pks = list(matching.values_list("pk", flat=True)[:RETENTION_BATCH])
        if not pks:
            return deleted
        deleted += matching.filter(pk__in=pks).delete()[0]


def _holds_rows_to_keep(groups: list[Group]):
    """Whether a day partition ending at `end` holds a row of a project whose cutoff is before
    `end` (or that keeps everything): one indexed probe per such group."""

    def keep(name: str, end: datetime) -> bool:
        for group in groups:
            if group.cutoff is not None and group.cutoff >= end:
                continue
            condition, params = group.sql()
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT EXISTS (SELECT FROM "{name}" WHERE {condition})', params)
                if cursor.fetchone()[0]:
                    return True
        return False

    return keep


def _first_whole_day(cutoff: datetime) -> date:
    """The first UTC day that begins at or after the cutoff: every day before it loses rows."""
    return (cutoff - timedelta(microseconds=1)).date() + timedelta(days=1)


def _sweep_group(group: Group, *, dry_run: bool) -> dict[str, int]:
    cutoff, scope = group.cutoff, group.q()

    def delete(model: type[Model], **older_than: datetime | date) -> int:
        return _delete_in_batches(model, dry_run=dry_run, scope=scope, **older_than)

    kept = _first_whole_day(cutoff)
    # First, so that no reader takes a day whose aggregates count rows that are going; its
    # aggregates then go with it (counted with the day).
    sealed_days = delete(SealedDay, day__lt=kept)
    for model in SEALED_DAY_AGGREGATES:
        delete(model, day__lt=kept)
    return {
        "events": delete(Event, occurred_at__lt=cutoff),
        "movement": delete(MovementSample, occurred_at__lt=cutoff),
        "eventKeys": delete(EventKey, received_at__lt=cutoff),
        # Last, so no event or sample is left pointing at a deleted session.
        "sessions": delete(Session, last_seen_at__lt=cutoff),
        # The dashboard's rollups of the same hours; they only copy what they need of a session.
        "sessionHours": delete(SessionHour, hour__lt=cutoff),
        "hourlyCounts": delete(HourlyCount, hour__lt=cutoff) + delete(HourlyCountDelta, hour__lt=cutoff),
        "batchClaims": delete(BatchClaim, received_at__lt=cutoff),
        "filteredBotHours": delete(FilteredBotHour, hour__lt=cutoff),
        "sealedDays": sealed_days,
    }


def sweep_retention(*, days: int, dry_run: bool = False) -> dict[str, int]:
    """Delete raw data older than each project's retention, `days` (RETENTION_DAYS) for those
    without one of their own; returns what went per table ({} when nothing expires at all).

    Whole day partitions that end before every cutoff of the projects with rows in them are
    dropped first (counted in `partitions`); what remains older than a project's cutoff (the
    cutoff's own day, days shared with projects that keep longer, the default partition) is
    deleted in batches.
    """
    groups = retention_groups(days=days, now=timezone.now())
    expiring = [group for group in groups if group.cutoff is not None]
    if not expiring:
        return {}
    latest = max(group.cutoff for group in expiring)
    dropped = partitions.drop_partitions_before(cutoff=latest, dry_run=dry_run, keep=_holds_rows_to_keep(groups))
    counts = {"partitions": sum(len(names) for names in dropped.values())}
    for group in expiring:
        for table, count in _sweep_group(group, dry_run=dry_run).items():
            counts[table] = counts.get(table, 0) + count
    logger.info("retention sweep (%s days by default, dry run %s): %s", days, dry_run, counts)
    return counts
