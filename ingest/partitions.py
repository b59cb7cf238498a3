"""Daily range partitions of the event and movement tables.

Each table is partitioned by `occurred_at` into one partition per UTC day, named
`<table>_pYYYYMMDD`, plus a default partition that takes any row no day partition covers,
so no row is ever refused. Partitions are created ahead by a scheduled task; retention
drops whole days instead of deleting rows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from django.db import connection as default_connection
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

PARTITIONED_TABLES = ("ingest_event", "ingest_movementsample")
PARTITION_KEY = "occurred_at"
DAYS_AHEAD = 7
DAY_SUFFIX = re.compile(r"_p(\d{8})$")
# How far back a table being partitioned gets day partitions for the data it already has.
BACKFILL_DAYS_MAX = 400


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def day_partitions(table: str, connection: BaseDatabaseWrapper = default_connection) -> dict[date, str]:
    """The day partitions of `table`, by the day they hold."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname FROM pg_inherits "
            "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = %s::regclass",
            [table],
        )
        names = [row[0] for row in cursor.fetchall()]
    days = {}
    for name in names:
        match = DAY_SUFFIX.search(name)
        if match:
            days[datetime.strptime(match.group(1), "%Y%m%d").date()] = name
    return days


def _create_day_partition(cursor, table: str, day: date) -> None:
    """Create one day's partition, first moving that day's rows out of the default
    partition (Postgres refuses a new partition whose rows sit in the default one)."""
    name = partition_name(table, day)
    low, high = _day_start(day), _day_start(day + timedelta(days=1))
    cursor.execute(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS)')
    cursor.execute(
        f'WITH moved AS (DELETE FROM "{table}_default" '
        f"WHERE {PARTITION_KEY} >= %s AND {PARTITION_KEY} < %s RETURNING *) "
        f'INSERT INTO "{name}" SELECT * FROM moved',
        [low, high],
    )
    cursor.execute(f'ALTER TABLE "{table}" ATTACH PARTITION "{name}" FOR VALUES FROM (%s) TO (%s)', [low, high])


def ensure_partitions(
    *,
    start: date,
    days: int = DAYS_AHEAD,
    tables: tuple[str, ...] = PARTITIONED_TABLES,
    connection: BaseDatabaseWrapper = default_connection,
) -> list[str]:
    """Create the missing day partitions from `start` for `days` days; returns their names."""
    created = []
    for table in tables:
        existing = day_partitions(table, connection)
        for offset in range(days):
            day = start + timedelta(days=offset)
            if day in existing:
                continue
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                _create_day_partition(cursor, table, day)
            created.append(partition_name(table, day))
    if created:
        logger.info("created partitions %s", ", ".join(created))
    return created


def drop_partitions_before(
    *,
    cutoff: datetime,
    dry_run: bool = False,
    keep: Callable[[str, datetime], bool] | None = None,
    connection: BaseDatabaseWrapper = default_connection,
) -> dict[str, list[str]]:
    """Drop the day partitions that end at or before `cutoff`, except those `keep(name, end)`
    holds on to: milliseconds per day of data, where deleting the same rows would take
    minutes and leave the table bloated."""
    dropped: dict[str, list[str]] = {}
    for table in PARTITIONED_TABLES:
        expired = [
            name
            for day, name in sorted(day_partitions(table, connection).items())
            if _day_start(day + timedelta(days=1)) <= cutoff
            and not (keep and keep(name, _day_start(day + timedelta(days=1))))
        ]
        if not dry_run:
            with connection.cursor() as cursor:
                for name in expired:
                    cursor.execute(f'DROP TABLE "{name}"')
        dropped[table] = expired
    if any(dropped.values()):
        logger.info("dropped expired partitions (dry run %s): %s", dry_run, dropped)
    return dropped


def partition_table(table: str, *, connection: BaseDatabaseWrapper) -> None:
    """Turn a plain table into a partitioned one, keeping its rows, columns and index names.

    For the migration that introduces partitioning; rows outside the day partitions it
    creates land in the default partition.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [table])
        if cursor.fetchone()[0] == "p":
            return
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname <> %s", [table, f"{table}_pkey"]
        )
        index_definitions = [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT min({PARTITION_KEY}) FROM "{table}"')
        oldest = cursor.fetchone()[0]
        old = f"{table}_unpartitioned"
        cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
        # Frees the name, so the new primary key is called {table}_pkey as Django expects.
        cursor.execute(f'ALTER TABLE "{old}" RENAME CONSTRAINT "{table}_pkey" TO "{old}_pkey"')
        cursor.execute(
            f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING IDENTITY) '
            f"PARTITION BY RANGE ({PARTITION_KEY})"
        )
        # A primary key of a partitioned table must contain the partition key.
        cursor.execute(f'ALTER TABLE "{table}" ADD PRIMARY KEY (id, {PARTITION_KEY})')
        cursor.execute(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
    today = datetime.now(UTC).date()
    start = today if oldest is None else max(oldest.date(), today - timedelta(days=BACKFILL_DAYS_MAX))
    ensure_partitions(start=start, days=(today - start).days + DAYS_AHEAD, tables=(table,), connection=connection)
    with connection.cursor() as cursor:
        cursor.execute(f'INSERT INTO "{table}" SELECT * FROM "{old}"')
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), COALESCE(max(id), 0) + 1, false) FROM \"{table}\"",
            [table],
        )
        cursor.execute(f'DROP TABLE "{old}"')
        for definition in index_definitions:
            cursor.execute(definition)
        # Rows arrive roughly in time order, so a BRIN index on time is tiny and cheap to keep.
        cursor.execute(f'CREATE INDEX "{table}_time_brin" ON "{table}" USING brin ({PARTITION_KEY})')
