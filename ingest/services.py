from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from ingest.models import Event, EventKey, MovementSample, Session
from ingest.payload import Batch, EventInput, SessionInput, parse_batch

logger = logging.getLogger(__name__)

# Rows per INSERT statement: well under SQLite's limit on bound parameters.
INSERT_CHUNK = 1000
RETENTION_BATCH = 5000


@dataclass
class IngestResult:
    events: int
    movement: int
    duplicates: int
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": {"events": self.events, "movement": self.movement},
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


def _upsert_session(*, project_id: uuid.UUID, session: SessionInput, received_at: datetime, user_agent: str) -> int:
    """One INSERT ... ON CONFLICT: the session row on first sight, a later last-seen after."""
    [row] = Session.objects.bulk_create(
        [
            Session(
                project_id=project_id,
                session_id=session.session_id,
                anon_id=session.anon_id,
                first_seen_at=received_at,
                last_seen_at=received_at,
                referrer=session.referrer,
                language=session.language,
                screen_width=session.screen_width,
                screen_height=session.screen_height,
                user_agent=user_agent[:512],
            )
        ],
        update_conflicts=True,
        unique_fields=["project", "session_id"],
        update_fields=["last_seen_at"],
    )
    return row.pk


def _claim_client_ids(*, project_id: uuid.UUID, client_ids: list[str], received_at: datetime) -> set[str]:
    """Record the batch's event ids; those already stored come back missing (duplicates)."""
    if not client_ids:
        return set()
    table = EventKey._meta.db_table
    project_value = EventKey._meta.get_field("project").get_db_prep_value(project_id, connection)
    when = EventKey._meta.get_field("received_at").get_db_prep_value(received_at, connection)
    claimed: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(client_ids), INSERT_CHUNK):
            chunk = client_ids[start : start + INSERT_CHUNK]
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            params: list[Any] = []
            for client_id in chunk:
                params += [project_value, client_id, when]
            cursor.execute(
                f"INSERT INTO {table} (project_id, client_id, received_at) VALUES {values} "
                "ON CONFLICT DO NOTHING RETURNING client_id",
                params,
            )
            claimed.update(row[0] for row in cursor.fetchall())
    return claimed


def _first_of_each_id(events: list[EventInput]) -> list[EventInput]:
    seen: set[str] = set()
    kept = []
    for event in events:
        if event.client_id is not None:
            if event.client_id in seen:
                continue
            seen.add(event.client_id)
        kept.append(event)
    return kept


def _store(*, project_id: uuid.UUID, batch: Batch, received_at: datetime, user_agent: str) -> tuple[int, int]:
    """Write the batch in one transaction; returns (events stored, events that were duplicates)."""
    events = _first_of_each_id(batch.events)
    with transaction.atomic():
        session_pk = _upsert_session(
            project_id=project_id, session=batch.session, received_at=received_at, user_agent=user_agent
        )
        claimed = _claim_client_ids(
            project_id=project_id,
            client_ids=[event.client_id for event in events if event.client_id is not None],
            received_at=received_at,
        )
        fresh = [event for event in events if event.client_id is None or event.client_id in claimed]
        Event.objects.bulk_create(
            [
                Event(
                    project_id=project_id,
                    session_id=session_pk,
                    client_id=event.client_id,
                    type=event.type,
                    path=event.path,
                    props=event.props,
                    occurred_at=event.occurred_at,
                    received_at=received_at,
                )
                for event in fresh
            ],
            batch_size=INSERT_CHUNK,
        )
        MovementSample.objects.bulk_create(
            [
                MovementSample(
                    project_id=project_id,
                    session_id=session_pk,
                    occurred_at=sample.occurred_at,
                    x=sample.x,
                    y=sample.y,
                    kind=sample.kind,
                    path=sample.path,
                    viewport_width=sample.viewport_width,
                    viewport_height=sample.viewport_height,
                )
                for sample in batch.movement
            ],
            batch_size=INSERT_CHUNK,
        )
    return len(fresh), len(batch.events) - len(fresh)


def ingest_batch(
    *, project_id: uuid.UUID, payload: dict[str, Any], received_at: datetime, user_agent: str = ""
) -> IngestResult:
    """Check and store one batch. Everything accepted is committed before this returns.

    Raises ApiError (400) for a bad envelope, in which case nothing is stored.
    """
    batch = parse_batch(payload, received_at=received_at)
    stored, duplicates = _store(project_id=project_id, batch=batch, received_at=received_at, user_agent=user_agent)
    return IngestResult(events=stored, movement=len(batch.movement), duplicates=duplicates, rejected=batch.rejected)


def _delete_in_batches(model: type[Model], *, dry_run: bool, **older_than: datetime) -> int:
    """Delete matching rows a bounded batch at a time, so no delete holds locks for long."""
    matching = model.objects.filter(**older_than)
    if dry_run:
        return matching.count()
    deleted = 0
    while True:
        pks = list(matching.values_list("pk", flat=True)[:RETENTION_BATCH])
        if not pks:
            return deleted
        deleted += model.objects.filter(pk__in=pks).delete()[0]


def sweep_retention(*, days: int, dry_run: bool = False) -> dict[str, int]:
    """Delete raw data older than `days` (0 keeps everything); returns rows deleted per table."""
    if days <= 0:
        return {}
    cutoff = timezone.now() - timedelta(days=days)
    counts = {
        "events": _delete_in_batches(Event, dry_run=dry_run, occurred_at__lt=cutoff),
        "movement": _delete_in_batches(MovementSample, dry_run=dry_run, occurred_at__lt=cutoff),
        "eventKeys": _delete_in_batches(EventKey, dry_run=dry_run, received_at__lt=cutoff),
        # Last, so no event or sample is left pointing at a deleted session.
        "sessions": _delete_in_batches(Session, dry_run=dry_run, last_seen_at__lt=cutoff),
    }
    logger.info("retention sweep (%s days, dry run %s): %s", days, dry_run, counts)
    return counts
