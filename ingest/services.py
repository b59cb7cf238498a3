"""The write side: every row of the event tables and their rollups is written here.

`store` is the one write path, used by the API (`ingest_batch`, one session a statement)
and by `generate_traffic` (hundreds); `rebuild_rollups` recomputes the rollups of rows that
reached the tables another way. The SQL is in `ingest/statements.py`.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg
from django.db import OperationalError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from analytics.http import fingerprint
from ingest import partitions, sketches, statements
from ingest.enrichment import Enrichment, enrich
from ingest.hours import ceil_hour, floor_hour
from ingest.models import SealedDay, SessionHour
from ingest.payload import (
    ID_MAX,
    USER_AGENT_MAX,
    Batch,
    EventInput,
    MovementInput,
    SessionInput,
    epoch_us,
    parse_batch,
)
from projects.models import Project
from projects.services import count_filtered_bot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stored:
    """What one statement added: a retry of a batch already stored adds nothing."""

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
    # Why nothing was stored although the batch is good ("bot"); None when it was stored.
    filtered: str | None = None


class SessionRecord(Enrichment):
    """A session as the write path takes it; its events and samples name it by `key`."""

    key: int
    session_id: str
    anon_id: str
    referrer: str
    language: str
    screen_width: int | None
    screen_height: int | None
    user_agent: str
    seen_us: int  # when the batch arrived: the session's first or last sight


def session_record(
    *,
    key: int,
    session: SessionInput,
    user_agent: str,
    client_address: str,
    own_origins: frozenset[str],
    seen_us: int,
) -> SessionRecord:
    """A session as the write path takes it, enriched from what its batch says and where it
    came from (ingest/enrichment.py). The landing URL and the address are read, not kept."""
    return {
        "key": key,
        "session_id": session.session_id,
        "anon_id": session.anon_id,
        "referrer": session.referrer,
        "language": session.language,
        "screen_width": session.screen_width,
        "screen_height": session.screen_height,
        "user_agent": user_agent[:USER_AGENT_MAX],
        "seen_us": seen_us,
        **enrich(
            user_agent=user_agent,
            client_address=client_address,
            referrer=session.referrer,
            landing_url=session.landing_url,
            own_origins=own_origins,
        ),
    }


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


def store(
    *,
    project_id: uuid.UUID,
    sessions: list[SessionRecord],
    events: list[EventInput],
    movement: list[MovementInput],
    received_at: datetime,
    batch_key: str | None = None,
) -> Stored:
    """Write sessions, their events and samples, and the rollups, in one statement.

    An event or sample without `session_key` belongs to the session keyed 0. Event ids
    already stored are skipped; with a `batch_key` already claimed, nothing is written.
    """
    params = {
        "project": project_id,
        "received_at": received_at,
        "batch_key": batch_key,
        # The items' keys are the record columns of STORE_SQL.
        "sessions": orjson.dumps(sessions).decode(),
        "events": orjson.dumps(events).decode(),
        "samples": orjson.dumps(movement).decode(),
    }
    with _raw_cursor() as cursor:
        cursor.execute(STORE_SQL_NUMBERED, [params[name] for name in STORE_SQL_PARAMETERS])
        events_stored, samples_stored = cursor.fetchone()
    return Stored(events=events_stored, movement=samples_stored)


def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with its %(name)s parameters written $1, $2, ... (and %% as %), and their names in
    that order."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match[1] is None:
            return "%"
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return re.sub(r"%\((\w+)\)s|%%", number, sql), tuple(names)


# Numbered once here: psycopg caches its translation of named parameters for statements of up
# to 4 KB only, and parsed this one (9 KB) again for every batch, 20% of store()'s CPU.
STORE_SQL_NUMBERED, STORE_SQL_PARAMETERS = _numbered(statements.STORE_SQL)


def _raw_cursor():
    """A cursor that sends the SQL as written and the parameters apart from it, so that psycopg
    can prepare the statement once per connection (DB_PREPARED_STATEMENTS) instead of Postgres
    parsing and planning it for every batch."""
    connection.ensure_connection()
    raw = psycopg.RawCursor(connection.connection)
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)


def ingest_batch(
    *,
    project_id: uuid.UUID,
    payload: dict[str, Any],
    received_at: datetime,
    user_agent: str = "",
    client_address: str = "",
    own_origins: frozenset[str] = frozenset(),
    bot: bool = False,
) -> IngestResult:
    """Check and store one batch. Everything accepted is committed before this returns.

    `client_address` only finds the session's country; a referrer on `own_origins` (the
    project's) counts as none. Raises ApiError (400) for a bad envelope, in which case nothing
    is stored. A batch from a bot that the project filters (`bot`) is checked the same way,
    then only counted.
    """
    batch = parse_batch(payload, received_at=received_at)
    if bot:
        count_filtered_bot(project_id=project_id, received_at=received_at)
        return IngestResult(
            events=0,
            movement=0,
            duplicates=0,
            rejected=batch.rejected,
            rejected_count=batch.rejected_count,
            filtered="bot",
        )
    record = session_record(
        key=0,
        session=batch.session,
        user_agent=user_agent,
        client_address=client_address,
        own_origins=own_origins,
        seen_us=epoch_us(received_at),
    )
    stored = store(
        project_id=project_id,
        sessions=[record],
        events=_first_of_each_id(batch.events),
        movement=batch.movement,
        received_at=received_at,
        batch_key=_batch_key(batch),
    )
    return IngestResult(
        events=stored.events,
        movement=stored.movement,
        duplicates=len(batch.events) - stored.events,
        rejected=batch.rejected,
        rejected_count=batch.rejected_count,
    )


# Rebuilt a day at a time, so that ingest waits at most for one day's aggregation.
REBUILD_CHUNK = timedelta(days=1)


def rebuild_rollups(*, start: datetime, end: datetime) -> int:
    """Recompute every project's rollups for the UTC hours that [start, end) touches from the
    raw events, and fold the counts; returns the hours rebuilt.

    For rows that reached the tables without `store`: data from before the rollups existed.
    Safe while ingest runs, which waits for each day's chunk and for the last step, which
    reads every session-hour row.
    """
    moment, last = floor_hour(start), ceil_hour(end)
    hours = 0
    while moment < last:
        chunk_end = min(moment + REBUILD_CHUNK, last)
        with transaction.atomic(), connection.cursor() as cursor:
            for sql in statements.REBUILD_ROLLUPS_SQL:
                cursor.execute(sql, {"start": moment, "end": chunk_end})
        hours += (chunk_end - moment) // timedelta(hours=1)
        logger.info("rebuilt rollups from %s to %s", moment, chunk_end)
        moment = chunk_end
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in statements.SETTLE_SPANS_SQL:
            cursor.execute(sql)
    compact_hourly_counts()
    return hours


def compact_hourly_counts() -> int:
    """Fold the per-batch count rows into one row per hour and key; returns the compacted rows
    written. The totals do not change, only how many rows hold them."""
    with connection.cursor() as cursor:
        cursor.execute(statements.COMPACT_HOURLY_COUNTS_SQL)
        written = cursor.rowcount
    logger.info("compacted hourly counts into %d rows", written)
    return written


@dataclass(frozen=True)
class ErasedIngestData:
    """What erasing one visitor took out of the ingest tables (rollup rows included)."""

    sessions: int
    events: int
    movement: int
    event_keys: int
    session_hours: int


def is_storable_anon_id(anon_id: str) -> bool:
    """Whether the ingest checks would let this anonId in: anything else (longer, or with a
    NUL, which Postgres text cannot hold) was never stored, and is not looked up."""
    return 0 < len(anon_id) <= ID_MAX and "\x00" not in anon_id


def erase_visitor_data(*, project_id: uuid.UUID, anon_id: str) -> ErasedIngestData:
    """Delete every session of `anon_id` in the project with its events, event ids, movement
    samples and session-hour rows, and take its events out of the hourly counts, atomically.

    Runs in the caller's transaction when there is one (an erasure across apps commits once).
    Batch claims stay: they hold a digest of a client-made batch id, which names no visitor.
    """
    if not is_storable_anon_id(anon_id):
        return ErasedIngestData(sessions=0, events=0, movement=0, event_keys=0, session_hours=0)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statements.LOCK_VISITOR_SESSIONS_SQL, {"project": project_id, "anon_id": anon_id})
        session_ids = [row[0] for row in cursor.fetchall()]
        if not session_ids:
            return ErasedIngestData(sessions=0, events=0, movement=0, event_keys=0, session_hours=0)
        # Probing every day partition adds up to a cost that sets off JIT compilation, which
        # takes longer than the statement itself (0.3 s against a few ms on 5 million events).
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(statements.ERASE_SESSIONS_SQL, {"project": project_id, "sessions": session_ids})
        sessions, events, movement, event_keys, session_hours = cursor.fetchone()
    logger.info("erased %d session(s), %d event(s) of a visitor of project %s", sessions, events, project_id)
    return ErasedIngestData(
        sessions=sessions, events=events, movement=movement, event_keys=event_keys, session_hours=session_hours
    )


def maintain_partitions() -> list[str]:
    """Create the day partitions of today and the days ahead that do not exist yet."""
    return partitions.ensure_partitions(start=timezone.now().date())


# How long after a UTC day's end it is sealed: events arrive late (a browser that was offline,
# a retried batch), and one that lands in a sealed day makes it stale until it is sealed again.
SEAL_DELAY = timedelta(hours=2)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class SealedDayResult:
    """A day sealed: the sessions its aggregates count, the rows in it of sessions that cross
    its midnights (read per session), and how long the lock held ingest back."""

    project_id: uuid.UUID
    day: date
    sessions: int
    crossing_rows: int
    locked_seconds: float


def seal_day(*, project_id: uuid.UUID, day: date) -> SealedDayResult | None:
    """Aggregate one project's UTC day from its session-hour rows and mark it sealed and not
    stale (ingest/statements.py, SEAL_START_SQL then SEAL_DAY_SQL); None, leaving the day
    stale, when a statement changed the day while it was being aggregated."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    params = {"project": project_id, "day": day, "start": start, "end": start + DAY}
    locked = _start_sealing(params=params)
    try:
        with _snapshot_cursor() as cursor:
            # One day's sessions hash in memory; planned anew each time, JIT would cost more than it saves.
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(statements.SEAL_VISITORS_SQL, params)
            visitors = sketches.sketch(cursor.fetchall()).tobytes()
            for sql in statements.SEAL_DAY_SQL:
                cursor.execute(sql, {**params, "visitors": visitors, "bounds": statements.DURATION_BIN_BOUNDS})
            counted = cursor.fetchone()
            if counted is None:
                raise _DayChanged
    except (_DayChanged, OperationalError) as exc:
        if isinstance(exc, OperationalError) and not isinstance(exc.__cause__, psycopg.errors.SerializationFailure):
            raise
        logger.info("%s of project %s changed while it was sealed: left stale", day, project_id)
        return None
    sessions, crossing = counted
    logger.info(
        "sealed %s of project %s: %d sessions, %d rows of sessions crossing midnight, ingest held back %.3f s",
        day,
        project_id,
        sessions,
        crossing,
        locked,
    )
    return SealedDayResult(
        project_id=project_id, day=day, sessions=sessions, crossing_rows=crossing, locked_seconds=locked
    )


def _start_sealing(*, params: dict[str, Any]) -> float:
    """Mark the day as being sealed under the rollup lock (SEAL_START_SQL), which waits for the
    statements in flight and holds new ones back until then; returns how long, in seconds."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statements.SEAL_START_SQL[0])
        locked_at = time.monotonic()
        cursor.execute(statements.SEAL_START_SQL[1], params)
    return time.monotonic() - locked_at


class _DayChanged(Exception):
    """A statement marked the day stale before the sealing's snapshot."""


@contextmanager
def _snapshot_cursor() -> Iterator[CursorWrapper]:
    """A cursor in a REPEATABLE READ transaction: every statement reads one snapshot, and an
    update of a row another transaction changed since fails. Inside a caller's transaction
    (the tests'), its isolation stands."""
    outer = connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if not outer:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield cursor


def days_to_seal(*, project_id: uuid.UUID, now: datetime) -> list[date]:
    """The project's UTC days with session-hour rows that ended SEAL_DELAY before `now` and
    are not sealed, or sealed and stale: from its first row's day, each probed by index."""
    first = SessionHour.objects.filter(project_id=project_id).order_by("hour").values_list("hour", flat=True).first()
    if first is None:
        return []
    last = (now - SEAL_DELAY).astimezone(UTC).date() - DAY
    sealed = set(
        SealedDay.objects.filter(project_id=project_id, stale=False, sealed_at__isnull=False).values_list(
            "day", flat=True
        )
    )
    due = []
    day = first.astimezone(UTC).date()
    while day <= last:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if (
            day not in sealed
            and SessionHour.objects.filter(project_id=project_id, hour__gte=start, hour__lt=start + DAY).exists()
        ):
            due.append(day)
        day += DAY
    return due


def seal_due_days(*, now: datetime, project_id: uuid.UUID | None = None) -> list[SealedDayResult]:
    """Seal every day that is due (days_to_seal) of one project, or of every project."""
    projects = [project_id] if project_id else list(Project.objects.values_list("id", flat=True))
    sealed = [
        seal_day(project_id=project, day=day)
        for project in projects
        for day in days_to_seal(project_id=project, now=now)
    ]
    return [result for result in sealed if result is not None]


def describe_sealed(sealed: list[SealedDayResult]) -> str:
    """One line for the commands that seal what they wrote."""
    if not sealed:
        return "Sealed no day: none was due."
    return (
        f"Sealed {len(sealed)} day(s) from {min(result.day for result in sealed)} to "
        f"{max(result.day for result in sealed)}: {sum(result.sessions for result in sealed):,} sessions counted, "
        f"{sum(result.crossing_rows for result in sealed):,} rows of sessions that cross midnight left to read per "
        f"session; ingest held back at most {max(result.locked_seconds for result in sealed):.3f} s."
    )
