from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from analytics.http import fingerprint
from ingest import partitions
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
from ingest.payload import Batch, EventInput, SessionInput, from_epoch_us, parse_batch
from ingest.time_ranges import ceil_hour, floor_hour

logger = logging.getLogger(__name__)

# Rows per INSERT statement: well under SQLite's limit on bound parameters.
INSERT_CHUNK = 1000
RETENTION_BATCH = 5000


@dataclass(frozen=True)
class Stored:
    """What one batch added: a retry of a batch already stored adds nothing."""

    events: int
    movement: int


@dataclass
class IngestResult:
    events: int
    movement: int
    duplicates: int
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # All items rejected; `rejected` lists the first REJECTED_LISTED of them.
    rejected_count: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": {"events": self.events, "movement": self.movement},
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejectedCount": self.rejected_count,
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


def _batch_key(batch: Batch) -> str | None:
    """What a batch with a batchId claims (BatchClaim), so that a retry of it stores nothing
    again: not its samples, nor its events without an id. A digest, so that any batchId fits
    the column."""
    return None if batch.batch_id is None else fingerprint(batch.batch_id)


def _first_of_each_id(events: list[EventInput]) -> list[EventInput]:
    seen: set[str] = set()
    kept = []
    for event in events:
        client_id = event["client_id"]
        if client_id is not None:
            if client_id in seen:
                continue
            seen.add(client_id)
        kept.append(event)
    return kept


def _store_with_orm(
    *, project_id: uuid.UUID, batch: Batch, events: list[EventInput], received_at: datetime, user_agent: str
) -> Stored:
    """The portable path (SQLite): a few statements in one transaction."""
    batch_key = _batch_key(batch)
    with transaction.atomic():
        session_pk = _upsert_session(
            project_id=project_id, session=batch.session, received_at=received_at, user_agent=user_agent
        )
        if batch_key is not None:
            _, claimed_now = BatchClaim.objects.get_or_create(
                project_id=project_id, batch_key=batch_key, defaults={"received_at": received_at}
            )
            if not claimed_now:
                return Stored(events=0, movement=0)  # a retry of a batch already stored
        claimed = _claim_client_ids(
            project_id=project_id,
            client_ids=[event["client_id"] for event in events if event["client_id"] is not None],
            received_at=received_at,
        )
        fresh = [event for event in events if event["client_id"] is None or event["client_id"] in claimed]
        Event.objects.bulk_create(
            [
                Event(
                    project_id=project_id,
                    session_id=session_pk,
                    client_id=event["client_id"],
                    type=event["type"],
                    path=event["path"],
                    props=event["props"],
                    occurred_at=from_epoch_us(event["occurred_us"]),
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
                    occurred_at=from_epoch_us(sample["occurred_us"]),
                    x=sample["x"],
                    y=sample["y"],
                    kind=sample["kind"],
                    path=sample["path"],
                    viewport_width=sample["viewport_width"],
                    viewport_height=sample["viewport_height"],
                )
                for sample in batch.movement
            ],
            batch_size=INSERT_CHUNK,
        )
    return Stored(events=len(fresh), movement=len(batch.movement))


# The whole batch in one Postgres statement: one round trip, atomic without BEGIN/COMMIT.
# Items travel as two JSON documents that Postgres expands into rows, because encoding them
# as typed arrays item by item costs the web worker more CPU than the insert costs Postgres.
# Data-modifying CTEs all run; `new_events` sees which ids `claimed` could insert, so an id
# already stored (a retried batch, or the same batch racing on another connection, which
# waits on the unique index) adds no event; a batch whose batchId is already claimed (a retry)
# adds nothing at all. The events stored also go to the dashboard's
# rollups in the same statement, so those are never behind or ahead of the raw rows: the
# session's row for each hour they fall in (only batches of the same session touch it, and
# they take the session's row lock first), and per-hour counts by type and path, appended
# rather than updated, because every batch would otherwise wait on the same counter rows.
# The session row remembers its first events' hour and whether its events span hours; when
# they start to, the row of that first hour is marked too (SessionHour's invariant). Both are
# taken from the batch's events before duplicates are dropped, which can only mark a session
# that does not span hours as one that does: slower to read, never wrong.
STORE_BATCH_SQL = f"""
WITH events AS (
    SELECT e.client_id, e.type, e.path, e.props,
           'epoch'::timestamptz + e.occurred_us * interval '1 microsecond' AS occurred_at
    FROM json_to_recordset(%(events)s::json)
        AS e(client_id text, type text, path text, props jsonb, occurred_us bigint)
), session_row AS (
    INSERT INTO {Session._meta.db_table} AS s (
        project_id, session_id, anon_id, first_seen_at, last_seen_at,
        referrer, language, screen_width, screen_height, user_agent, first_event_hour, spans_hours
    )
    SELECT %(project)s, %(session_id)s, %(anon_id)s, %(received_at)s, %(received_at)s,
           %(referrer)s, %(language)s, %(screen_width)s, %(screen_height)s, %(user_agent)s,
           min(hour), count(DISTINCT hour) > 1
    FROM (SELECT date_trunc('hour', occurred_at, 'UTC') AS hour FROM events) AS batch
    ON CONFLICT (project_id, session_id) DO UPDATE SET
        last_seen_at = GREATEST(s.last_seen_at, EXCLUDED.last_seen_at),
        first_event_hour = COALESCE(s.first_event_hour, EXCLUDED.first_event_hour),
        spans_hours = s.spans_hours OR EXCLUDED.spans_hours
            OR COALESCE(s.first_event_hour <> EXCLUDED.first_event_hour, false)
    RETURNING s.id, s.anon_id, s.referrer, s.language, s.screen_width, s.screen_height,
              s.first_event_hour, s.spans_hours
), batch_claimed AS (
    INSERT INTO {BatchClaim._meta.db_table} (project_id, batch_key, received_at)
    SELECT %(project)s, %(batch_key)s::text, %(received_at)s WHERE %(batch_key)s::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING batch_key
), claimed AS (
    INSERT INTO {EventKey._meta.db_table} (project_id, client_id, received_at)
    SELECT %(project)s, client_id, %(received_at)s FROM events WHERE client_id IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING client_id
), new_events AS (
    INSERT INTO {Event._meta.db_table} (
        project_id, session_id, client_id, type, path, props, occurred_at, received_at
    )
    SELECT %(project)s, (SELECT id FROM session_row), e.client_id, e.type, e.path,
           e.props, e.occurred_at, %(received_at)s
    FROM events AS e
    WHERE (e.client_id IS NULL OR e.client_id IN (SELECT client_id FROM claimed))
      AND (%(batch_key)s::text IS NULL OR EXISTS (SELECT FROM batch_claimed))
    RETURNING date_trunc('hour', occurred_at, 'UTC') AS hour, type, path
), new_samples AS (
    INSERT INTO {MovementSample._meta.db_table} (
        project_id, session_id, occurred_at, x, y, kind, path, viewport_width, viewport_height
    )
    SELECT %(project)s, (SELECT id FROM session_row),
           'epoch'::timestamptz + m.occurred_us * interval '1 microsecond',
           m.x, m.y, m.kind, m.path, m.viewport_width, m.viewport_height
    FROM json_to_recordset(%(samples)s::json) AS m(
        occurred_us bigint, x integer, y integer, kind text, path text,
        viewport_width integer, viewport_height integer
    )
    WHERE %(batch_key)s::text IS NULL OR EXISTS (SELECT FROM batch_claimed)
), session_hours AS (
    INSERT INTO {SessionHour._meta.db_table} AS h (
        project_id, hour, session_id, events, page_views,
        anon_id, referrer, language, screen_width, screen_height, spans_hours
    )
    SELECT %(project)s, e.hour, s.id, count(*), count(*) FILTER (WHERE e.type = 'page_view'),
           s.anon_id, s.referrer, s.language, s.screen_width, s.screen_height, s.spans_hours IS NOT FALSE
    FROM new_events AS e CROSS JOIN session_row AS s
    GROUP BY e.hour, s.id, s.anon_id, s.referrer, s.language, s.screen_width, s.screen_height, s.spans_hours
    ON CONFLICT (project_id, hour, session_id) DO UPDATE SET
        events = h.events + EXCLUDED.events,
        page_views = h.page_views + EXCLUDED.page_views,
        spans_hours = h.spans_hours OR EXCLUDED.spans_hours
), first_hour AS (
    -- Scalar subqueries, so the row is found by its primary key: as a join, the planner
    -- scanned every row of the project.
    UPDATE {SessionHour._meta.db_table} AS h SET spans_hours = true
    WHERE h.project_id = %(project)s
      AND h.hour = (SELECT first_event_hour FROM session_row WHERE spans_hours)
      AND h.session_id = (SELECT id FROM session_row)
      AND NOT h.spans_hours
      -- Rows of this batch's hours are session_hours' to write: one statement may not
      -- change a row twice.
      AND h.hour NOT IN (SELECT hour FROM new_events)
), hourly_counts AS (
    INSERT INTO {HourlyCountDelta._meta.db_table} (project_id, hour, dimension, value, count)
    SELECT %(project)s, hour, 'type', type, count(*) FROM new_events GROUP BY hour, type
    UNION ALL
    SELECT %(project)s, hour, 'path', path, count(*) FROM new_events WHERE type = 'page_view' GROUP BY hour, path
)
SELECT (SELECT count(*) FROM new_events), %(batch_key)s::text IS NULL OR EXISTS (SELECT FROM batch_claimed)
"""


def _store_in_one_statement(
    *, project_id: uuid.UUID, batch: Batch, events: list[EventInput], received_at: datetime, user_agent: str
) -> Stored:
    """The Postgres path: the batch's items as JSON in one statement."""
    session = batch.session
    params = {
        "project": project_id,
        "received_at": received_at,
        "session_id": session.session_id,
        "anon_id": session.anon_id,
        "referrer": session.referrer,
        "language": session.language,
        "screen_width": session.screen_width,
        "screen_height": session.screen_height,
        "user_agent": user_agent[:512],
        "batch_key": _batch_key(batch),
        # The items' keys are the record columns named above.
        "events": orjson.dumps(events).decode(),
        "samples": orjson.dumps(batch.movement).decode(),
    }
    with _server_binding_cursor() as cursor:
        cursor.execute(STORE_BATCH_SQL, params)
        events_stored, batch_is_new = cursor.fetchone()
    return Stored(events=events_stored, movement=len(batch.movement) if batch_is_new else 0)


def _server_binding_cursor():
    """A cursor that sends parameters apart from the SQL, so that psycopg can prepare the
    statement once per connection (DB_PREPARED_STATEMENTS) instead of Postgres parsing and
    planning it for every batch."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    raw = ServerBindingCursor(connection.connection)
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)


def _store(*, project_id: uuid.UUID, batch: Batch, received_at: datetime, user_agent: str) -> Stored:
    events = _first_of_each_id(batch.events)
    store = _store_in_one_statement if connection.vendor == "postgresql" else _store_with_orm
    return store(project_id=project_id, batch=batch, events=events, received_at=received_at, user_agent=user_agent)


def ingest_batch(
    *, project_id: uuid.UUID, payload: dict[str, Any], received_at: datetime, user_agent: str = ""
) -> IngestResult:
    """Check and store one batch. Everything accepted is committed before this returns.

    Raises ApiError (400) for a bad envelope, in which case nothing is stored.
    """
    batch = parse_batch(payload, received_at=received_at)
    stored = _store(project_id=project_id, batch=batch, received_at=received_at, user_agent=user_agent)
    return IngestResult(
        events=stored.events,
        movement=stored.movement,
        duplicates=len(batch.events) - stored.events,
        rejected=batch.rejected,
        rejected_count=batch.rejected_count,
    )


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


# The rollups of whole hours recomputed from raw events. The lock waits for ingest statements
# in flight (each holds ROW EXCLUSIVE on the session-hour table from its start: the table is
# in every one) and holds new ones back until commit, so the raw rows read are exactly those
# the rollups should count. One table only: locking a second could deadlock with an ingest
# statement that took that one first.
REBUILD_ROLLUPS_SQL = [
    f"LOCK TABLE {SessionHour._meta.db_table} IN SHARE ROW EXCLUSIVE MODE",
    f"DELETE FROM {SessionHour._meta.db_table} WHERE hour >= %(start)s AND hour < %(end)s",
    # The deltas first, as compact_hourly_counts takes them: if it has moved some, this waits
    # for it, and the next statement sees (and deletes) the counts it folded them into.
    f"DELETE FROM {HourlyCountDelta._meta.db_table} WHERE hour >= %(start)s AND hour < %(end)s",
    f"DELETE FROM {HourlyCount._meta.db_table} WHERE hour >= %(start)s AND hour < %(end)s",
    f"""
    INSERT INTO {SessionHour._meta.db_table} (
        project_id, hour, session_id, events, page_views,
        anon_id, referrer, language, screen_width, screen_height, spans_hours
    )
    SELECT e.project_id, date_trunc('hour', e.occurred_at, 'UTC'), e.session_id, count(*),
           count(*) FILTER (WHERE e.type = 'page_view'),
           s.anon_id, s.referrer, s.language, s.screen_width, s.screen_height,
           count(*) OVER (PARTITION BY e.session_id) > 1
    FROM {Event._meta.db_table} e JOIN {Session._meta.db_table} s ON s.id = e.session_id
    WHERE e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
    GROUP BY 1, 2, 3, s.id
    """,
    f"""
    INSERT INTO {HourlyCount._meta.db_table} (project_id, hour, dimension, value, count)
    SELECT project_id, date_trunc('hour', occurred_at, 'UTC'), 'type', type, count(*)
    FROM {Event._meta.db_table} WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
    GROUP BY 1, 2, 4
    UNION ALL
    SELECT project_id, date_trunc('hour', occurred_at, 'UTC'), 'path', path, count(*)
    FROM {Event._meta.db_table}
    WHERE occurred_at >= %(start)s AND occurred_at < %(end)s AND type = 'page_view'
    GROUP BY 1, 2, 4
    """,
]
# Rebuilt a day at a time, so that ingest waits at most for one day's aggregation.
REBUILD_CHUNK = timedelta(days=1)
# A chunk marks the rows of sessions with more than one hour in it; a session whose other hours
# lie in another chunk (one that crosses midnight, a late event) is only marked by this last
# step, which sets every session's marks and first hour from all its rows, under the same lock.
# Until it has run, such a session counts twice in a range that holds both of its rows.
SETTLE_SPANS_SQL = [
    REBUILD_ROLLUPS_SQL[0],
    f"""
    WITH spans AS (
        SELECT session_id, min(hour) AS first_hour, count(*) > 1 AS spans
        FROM {SessionHour._meta.db_table} GROUP BY session_id
    ), marked AS (
        UPDATE {SessionHour._meta.db_table} h SET spans_hours = t.spans
        FROM spans t WHERE h.session_id = t.session_id AND h.spans_hours <> t.spans
    )
    UPDATE {Session._meta.db_table} s SET first_event_hour = t.first_hour, spans_hours = t.spans
    FROM spans t
    WHERE s.id = t.session_id
      AND (s.first_event_hour, s.spans_hours) IS DISTINCT FROM (t.first_hour, t.spans)
    """,
]


def rebuild_rollups(*, start: datetime, end: datetime) -> int:
    """Recompute every project's rollups for the UTC hours that [start, end) touches from the
    raw events (Postgres; elsewhere the dashboard reads raw events and there is nothing to do).

    For data that reached the tables without the ingest statement: rows from before the
    rollups existed, `generate_traffic`. Safe while ingest runs, which waits for each day's
    chunk and for the last step, which reads every session-hour row. Returns the hours rebuilt.
    """
    if connection.vendor != "postgresql":
        return 0
    moment, last = floor_hour(start), ceil_hour(end)
    hours = 0
    while moment < last:
        chunk_end = min(moment + REBUILD_CHUNK, last)
        with transaction.atomic(), connection.cursor() as cursor:
            for sql in REBUILD_ROLLUPS_SQL:
                cursor.execute(sql, {"start": moment, "end": chunk_end})
        hours += (chunk_end - moment) // timedelta(hours=1)
        logger.info("rebuilt rollups from %s to %s", moment, chunk_end)
        moment = chunk_end
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in SETTLE_SPANS_SQL:
            cursor.execute(sql)
    return hours


# Folds every committed delta row into the compacted counts, in one statement: the hours it
# touches are summed anew from their compacted rows and the deltas. Rows an ingest has not
# committed yet are not visible to the DELETE and stay for the next run; a concurrent run
# deletes other rows (or waits and skips them), so every count is in exactly one row.
COMPACT_HOURLY_COUNTS_SQL = f"""
WITH moved AS (
    DELETE FROM {HourlyCountDelta._meta.db_table}
    RETURNING project_id, hour, dimension, value, count
), touched AS (
    SELECT DISTINCT project_id, hour FROM moved
), folded AS (
    DELETE FROM {HourlyCount._meta.db_table} c USING touched t
    WHERE c.project_id = t.project_id AND c.hour = t.hour
    RETURNING c.project_id, c.hour, c.dimension, c.value, c.count
)
INSERT INTO {HourlyCount._meta.db_table} (project_id, hour, dimension, value, count)
SELECT project_id, hour, dimension, value, sum(count)
FROM (SELECT * FROM moved UNION ALL SELECT * FROM folded) AS counted
GROUP BY project_id, hour, dimension, value
"""


def compact_hourly_counts() -> int:
    """Fold the per-batch count rows into one row per hour and key (Postgres); returns the
    compacted rows written. The totals do not change, only how many rows hold them."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(COMPACT_HOURLY_COUNTS_SQL)
        written = cursor.rowcount
    logger.info("compacted hourly counts into %d rows", written)
    return written


def sweep_retention(*, days: int, dry_run: bool = False) -> dict[str, int]:
    """Delete raw data older than `days` (0 keeps everything); returns what went per table.

    On Postgres whole day partitions that end before the cutoff are dropped first
    (counted in `partitions`); what remains older than the cutoff (the cutoff's own day, rows
    in the default partition, every row on SQLite) is deleted in batches.
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
    }
    logger.info("retention sweep (%s days, dry run %s): %s", days, dry_run, counts)
    return counts


def maintain_partitions() -> list[str]:
    """Create the day partitions of today and the days ahead that do not exist yet."""
    return partitions.ensure_partitions(start=timezone.now().date())
