"""Retention: raw data and its rollups older than RETENTION_DAYS go, whole day partitions first."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Model
from django.utils import timezone

from ingest import partitions
from ingest.hours import floor_hour
from ingest.models import (
    BatchClaim,
    Event,
    EventKey,
    HourlyCount,
    HourlyCountDelta,
    MovementSample,
    Session,
    SessionHour,
)
from projects.models import FilteredBotHour

logger = logging.getLogger(__name__)

RETENTION_BATCH = 5000


def _delete_in_batches(model: type[Model], *, dry_run: bool, **older_than: datetime) -> int:
    """Delete matching rows a bounded batch at a time, so no delete holds locks for long.

    The time condition stays on the delete too, so Postgres prunes it to the partitions
    that can hold such rows.
    """
    matching = model.objects.filter(**older_than)
    if dry_run:
        return matching.count()
    deleted = 0
    while True:
        pks = list(matching.values_list("pk", flat=True)[:RETENTION_BATCH])
        if not pks:
            return deleted
        deleted += matching.filter(pk__in=pks).delete()[0]


def sweep_retention(*, days: int, dry_run: bool = False) -> dict[str, int]:
    """Delete raw data older than `days` (0 keeps everything); returns what went per table.

    Whole day partitions that end before the cutoff are dropped first (counted in
    `partitions`); what remains older than the cutoff (the cutoff's own day, rows in the
    default partition) is deleted in batches.
    """
    if days <= 0:
        return {}
    # On a whole hour, so that raw events and their hourly rollups go up to the same instant.
    cutoff = floor_hour(timezone.now() - timedelta(days=days))
    dropped = partitions.drop_partitions_before(cutoff=cutoff, dry_run=dry_run)
    counts = {
        "partitions": sum(len(names) for names in dropped.values()),
        "events": _delete_in_batches(Event, dry_run=dry_run, occurred_at__lt=cutoff),
        "movement": _delete_in_batches(MovementSample, dry_run=dry_run, occurred_at__lt=cutoff),
        "eventKeys": _delete_in_batches(EventKey, dry_run=dry_run, received_at__lt=cutoff),
        # Last, so no event or sample is left pointing at a deleted session.
        "sessions": _delete_in_batches(Session, dry_run=dry_run, last_seen_at__lt=cutoff),
        # The dashboard's rollups of the same hours; they only copy what they need of a session.
        "sessionHours": _delete_in_batches(SessionHour, dry_run=dry_run, hour__lt=cutoff),
        "hourlyCounts": (
            _delete_in_batches(HourlyCount, dry_run=dry_run, hour__lt=cutoff)
            + _delete_in_batches(HourlyCountDelta, dry_run=dry_run, hour__lt=cutoff)
        ),
        "batchClaims": _delete_in_batches(BatchClaim, dry_run=dry_run, received_at__lt=cutoff),
        "filteredBotHours": _delete_in_batches(FilteredBotHour, dry_run=dry_run, hour__lt=cutoff),
    }
    logger.info("retention sweep (%s days, dry run %s): %s", days, dry_run, counts)
    return counts
