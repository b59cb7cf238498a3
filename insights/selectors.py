"""A project's traffic numbers for a time range.

Every number is computed by the database from the events whose `occurred_at` falls in the
range [start, end) (UTC); Python only shapes the aggregated rows. What each number counts
is defined once, in docs/insights.md ("Definitions"); the dashboard's legend says it in
short for the people reading the page.

The whole UTC hours of a range are read from the rollups the ingest statement keeps
(SessionHour, HourlyCount and HourlyCountDelta), and only the partial hours at the range's
edges from raw events; both are combined per session before anything is counted, so the
numbers are those of the raw events (insights/tests/reference.py computes them from the raw
rows alone, and the tests hold the two to each other).

Whole UTC days that are sealed (ingest.models.SealedDay, sealed by ingest.services.seal_day)
are read from their per-day aggregates instead, added to what the rest of the range counts
per session; which days are sealed and the rows around them are read in one snapshot. Over
sealed days, unique visitors are estimated from the days' sketches (ingest/sketches.py);
every other number stays exact.

Filters restrict every number to the sessions with the given values of the session
dimensions (ingest.models.SESSION_DIMENSIONS, which the rollups carry for that): rollup rows
are matched on their own columns, the raw events at the edges through their session. A
filtered read never uses sealed days, which count all sessions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta

import psycopg
from django.core.cache import cache
from django.db import transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMinute

from analytics.replica import read_alias, read_connection
from ingest import sketches
from ingest.models import (
    SESSION_DIMENSIONS,
    Event,
    HourlyCount,
    HourlyCountDelta,
    SealedDay,
    SealedDayCount,
    SealedDayDuration,
    SealedDaySession,
    Session,
    SessionHour,
)
from ingest.statements import (
    BREAKDOWN_COLUMNS,
    BREAKDOWN_COUNTS,
    BREAKDOWNS_OF_VISITS,
    DURATION_BIN_BOUNDS,
    ENTRY_EXIT_NAME,
    ENTRY_EXIT_PATH,
    ENTRY_EXIT_SETS,
    NOT_BREAKDOWNS,
    VISIT_COLUMN_NAMES,
    VISIT_COLUMNS,
    VISIT_MICROS,
)
from insights.time_ranges import (
    Interval,
    TimeRange,
    bucket_of,
    bucket_starts,
    hours_across_days,
    outside_whole_hours,
    whole_hours,
)
from projects.models import FilteredBotHour

PAGE_VIEW = "page_view"
TOP_N = 10


@dataclass(frozen=True)
class Totals:
    page_views: int
    events: int
    sessions: int
    visitors: int
    sessions_with_page_view: int
    bounced_sessions: int
    # None when `visitors` is exact; else it is estimated (ranges with sealed days), and this
    # is its relative standard error.
    visitors_standard_error: float | None = None

    @property
    def visitors_estimated(self) -> bool:
        return self.visitors_standard_error is not None

    @property
    def events_per_session(self) -> float | None:
        return self.events / self.sessions if self.sessions else None

    @property
    def bounce_rate(self) -> float | None:
        if not self.sessions_with_page_view:
            return None
        return self.bounced_sessions / self.sessions_with_page_view


def relative_change(current: float | None, previous: float | None) -> float | None:
    """(current - previous) / previous; None where that is not a number (previous 0 or
    unknown, or current unknown)."""
    if current is None or not previous:
        return None
    return (current - previous) / previous


@dataclass(frozen=True)
class TotalsChange:
    """The relative change of each total, counted (Totals' fields) or derived (its
    properties), against the previous period (0.25: a quarter more)."""

    page_views: float | None
    events: float | None
    sessions: float | None
    visitors: float | None
    events_per_session: float | None
    sessions_with_page_view: float | None
    bounced_sessions: float | None
    bounce_rate: float | None

    @classmethod
    def between(cls, current: Totals, previous: Totals) -> TotalsChange:
        return cls(
            **{
                item.name: relative_change(getattr(current, item.name), getattr(previous, item.name))
                for item in fields(cls)
            }
        )


@dataclass(frozen=True)
class Bucket:
    start: datetime
    page_views: int
    sessions: int


# A session dimension's column (one of SESSION_DIMENSIONS) -> the value sessions must have.
Filters = Mapping[str, str]
NO_FILTERS: Filters = {}


@dataclass(frozen=True)
class RankedValue:
    """One row of a top list: a value and how many page views, events or sessions had it.
    Null in the lists of session dimensions: sessions stored before enrichment, or a country
    that is not known."""

    value: str | None
    count: int


@dataclass(frozen=True)
class ScreenSize:
    width: int | None
    height: int | None
    sessions: int

    @property
    def label(self) -> str:
        if self.width is None or self.height is None:
            return "unknown"
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class VisitDuration:
    """Median and mean of the range's sessions' durations (last event - first event in the
    range), over `sessions` sessions, of which `single_event_sessions` had one event and count
    as 0 s. None with no sessions. Seconds, to the microsecond."""

    sessions: int
    single_event_sessions: int
    median_seconds: float | None
    mean_seconds: float | None


MICROSECONDS = 1_000_000


@dataclass(frozen=True)
class DurationChange:
    """The relative change of the median and the mean visit against the previous period."""

    median_seconds: float | None
    mean_seconds: float | None

    @classmethod
    def between(cls, current: VisitDuration, previous: VisitDuration) -> DurationChange:
        return cls(
            median_seconds=relative_change(current.median_seconds, previous.median_seconds),
            mean_seconds=relative_change(current.mean_seconds, previous.mean_seconds),
        )


def visit_duration(
    *, sessions: int, single_event_sessions: int, median_us: float | None, total_us: int
) -> VisitDuration:
    """The durations from the median and the sum in microseconds; the reference shapes its own
    count with this too, so that both divide the same integers the same way."""
    return VisitDuration(
        sessions=sessions,
        single_event_sessions=single_event_sessions,
        median_seconds=None if not sessions else median_us / MICROSECONDS,
        mean_seconds=None if not sessions else total_us / sessions / MICROSECONDS,
    )


@dataclass(frozen=True)
class TrafficStats:
    project_id: uuid.UUID
    time_range: TimeRange
    interval: Interval
    totals: Totals
    series: list[Bucket]
    top_paths: list[RankedValue]
    top_referrers: list[RankedValue]
    top_event_types: list[RankedValue]
    languages: list[RankedValue]
    screen_sizes: list[ScreenSize]
    filtered_bots: int
    # The filters applied (column -> value), and sessions per value of each session
    # dimension, by column (SESSION_DIMENSIONS).
    filters: dict[str, str]
    dimensions: dict[str, list[RankedValue]]
    # Sessions per path of their first and last page view in the range, and how long visits
    # lasted (session_pages_and_durations).
    entry_pages: list[RankedValue]
    exit_pages: list[RankedValue]
    visit_duration: VisitDuration
    # The totals and visit durations of the range just before (time_range.previous), same
    # filters: the trends.
    previous_totals: Totals | None = None
    previous_visit_duration: VisitDuration | None = None

    @property
    def change(self) -> TotalsChange | None:
        if self.previous_totals is None:
            return None
        return TotalsChange.between(self.totals, self.previous_totals)

    @property
    def visit_duration_change(self) -> DurationChange | None:
        if self.previous_visit_duration is None:
            return None
        return DurationChange.between(self.visit_duration, self.previous_visit_duration)


# Typed NULLs: a bare NULL inside a derived table becomes text on Postgres, and UNION ALL
# then refuses to match it with the numbers of the totals row.
NO_INT = "CAST(NULL AS BIGINT)"
NO_TEXT = "CAST(NULL AS VARCHAR(1))"
SESSION = Session._meta.db_table
EVENT = Event._meta.db_table
SESSION_HOUR = SessionHour._meta.db_table
SEALED_DAYS = SealedDay._meta.db_table
SEALED_COUNTS = SealedDayCount._meta.db_table
SEALED_DURATIONS = SealedDayDuration._meta.db_table
SEALED_SESSIONS = SealedDaySession._meta.db_table
DAY = timedelta(days=1)


# Totals and the per-session breakdowns come from one statement: the range's events are
# grouped per session once (`visits`), and every number is read off that set. Separate
# queries would scan the range many times. The breakdowns are grouping sets of one
# aggregation (ingest.statements.BREAKDOWN_SETS, the sealing's too): hashed, in one pass over
# the sessions, one small table per breakdown; the sealed days' counts of the same breakdowns
# are added to them before the lists are ranked. Visitors are counted over a GROUP BY, which
# hashes, rather than COUNT(DISTINCT), which sorts every anonId and took twice as long on 1.5
# million sessions (with sealed days they are estimated instead: _estimated_visitors). NOT
# MATERIALIZED inlines `visits` into its two readers rather than writing a month of sessions
# to a temporary store first: each reader then scans what it needs, estimated from the
# tables' statistics.
SESSION_ROLLUP_SQL = f"""
WITH visits AS NOT MATERIALIZED ({{visits}}),
grouped AS (
    SELECT dimension, value, screen_width, screen_height, SUM(sessions) AS sessions, SUM(events) AS events,
           SUM(views) AS views, SUM(viewed) AS viewed, SUM(bounced) AS bounced
    FROM (
        {BREAKDOWNS_OF_VISITS}
        UNION ALL
        SELECT dimension, value, screen_width, screen_height, sessions, events, page_views, viewed, bounced
        FROM {SEALED_COUNTS} WHERE project_id = %s AND day = ANY(%s) AND dimension NOT IN {NOT_BREAKDOWNS}
    ) AS parts
    GROUP BY dimension, value, screen_width, screen_height
)
SELECT dimension, value, screen_width, screen_height, sessions, events, views, viewed, bounced
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY dimension ORDER BY sessions DESC, value, screen_width, screen_height
    ) AS place
    FROM grouped
) ranked
WHERE dimension = 'totals' OR place <= %s
{{visitors}}
"""
VISITORS_ROW_SQL = f"""
UNION ALL
SELECT 'visitors', {NO_TEXT}, {NO_INT}, {NO_INT}, COUNT(*), {", ".join([NO_INT] * 4)}
FROM (SELECT anon_id FROM visits GROUP BY anon_id) visitors
"""
SESSION_TOTALS_SQL = f"""
WITH visits AS NOT MATERIALIZED ({{visits}})
SELECT SUM(sessions), SUM(events), SUM(views), SUM(viewed), SUM(bounced), {{visitors}}
FROM (
    SELECT {BREAKDOWN_COUNTS} FROM visits
    UNION ALL
    SELECT sessions, events, page_views, viewed, bounced
    FROM {SEALED_COUNTS} WHERE project_id = %s AND day = ANY(%s) AND dimension = 'totals'
) AS counted
"""
# Raw events `e` with their sessions `s`, joined on the project as well as the id: the
# project's condition on the events then holds for the sessions too.
EVENTS_WITH_SESSIONS = f"{EVENT} e JOIN {SESSION} s ON s.project_id = e.project_id AND s.id = e.session_id"
VISITORS_COUNT_SQL = "(SELECT COUNT(*) FROM (SELECT anon_id FROM visits GROUP BY anon_id) visitors)"
SESSION_VISIT_COLUMNS = ", ".join(f"s.{column}" for column in VISIT_COLUMN_NAMES)
# Per session with an event in the range: its events, page views and dimensions, from the
# rollups for whole hours and from raw events for the edges (sealed days aside: their
# sessions are counted in the sealed aggregates). A session whose only row is in the range
# is complete as it is; the rows of sessions that span hours (`spanning`: SPANNING_ROWS_SQL)
# are added up per session with their raw events at the edges (a session's dimensions are
# the same in every row of it). Grouping only those keeps the hash table small.
ROLLUP_VISITS_SQL = f"""
SELECT events AS event_count, page_views AS view_count, {VISIT_COLUMNS}
FROM {SESSION_HOUR}
WHERE project_id = %s AND ({{hours}}) AND NOT spans_hours {{matching}}
UNION ALL
SELECT SUM(events), SUM(page_views), {VISIT_COLUMNS}
FROM (
    SELECT session_id, events, page_views, {VISIT_COLUMNS} FROM ({{spanning}}) AS h
    UNION ALL
    SELECT e.session_id, 1, CASE WHEN e.type = '{PAGE_VIEW}' THEN 1 ELSE 0 END, {SESSION_VISIT_COLUMNS}
    FROM {EVENTS_WITH_SESSIONS}
    WHERE e.project_id = %s AND ({{edges}}) {{session_matching}}
) parts
GROUP BY session_id, {VISIT_COLUMNS}
"""
# The rows of sessions that span hours in the whole hours read per session, and the rows in
# the sealed days of the sessions that also have rows outside them (CROSSING_ROWS_SQL): each
# such session is then combined from all its rows in the range.
SPANNING_ROWS_SQL = f"SELECT * FROM {SESSION_HOUR} WHERE project_id = %s AND ({{hours}}) AND spans_hours {{matching}}"
CROSSING_ROWS_SQL = f"""
UNION ALL
SELECT h.* FROM {SEALED_SESSIONS} c
JOIN {SESSION_HOUR} h ON h.project_id = c.project_id AND h.hour = c.hour AND h.session_id = c.session_id
WHERE c.project_id = %s AND c.day = ANY(%s)
"""
# The anonIds of the rows read per session: every row of the whole hours outside the sealed
# days (the rows in them of sessions that cross a midnight are in the days' sketches) and
# the sessions of the edges' raw events.
VISITOR_ROWS_SQL = f"""
SELECT anon_id FROM {SESSION_HOUR} WHERE project_id = %s AND ({{hours}})
UNION ALL
SELECT s.anon_id FROM {EVENTS_WITH_SESSIONS} WHERE e.project_id = %s AND ({{edges}})
"""

# Room to hash a month of sessions (or visitors) in memory instead of spilling them to disk,
# which took twice as long; grouping by hashing, as the planner cannot tell how few
# combinations of referrer, language and screen there are and would sort 1.5 million sessions
# to group them (2 s instead of 0.2); no JIT compilation, which costs tens of milliseconds on
# every call (the statement is planned anew each time) and saves none.
AGGREGATE_SETTINGS = ("SET LOCAL work_mem = '64MB'", "SET LOCAL enable_sort = off", "SET LOCAL jit = off")


@contextmanager
def aggregate_cursor(settings: tuple[str, ...] = AGGREGATE_SETTINGS) -> Iterator[CursorWrapper]:
    """A cursor in a transaction that sees one snapshot (REPEATABLE READ): which days are
    sealed and every row read around them are of the same instant. Inside a caller's own
    transaction, its isolation stands."""
    connection = read_connection()
    outer = connection.in_atomic_block
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if not outer:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for setting in settings:
            cursor.execute(setting)
        yield cursor


@dataclass(frozen=True)
class Split:
    """Where a range is read from: `hours`, a condition on session-hour rows' `hour` (its
    parameters in `hour_params`, after the project's) covering the whole UTC hours outside
    `sealed`, the sealed days read from their aggregates; `edges`, a condition on raw events
    `e` (parameters in `edge_params`, after the project's) covering the rest."""

    project_id: uuid.UUID
    hours: str
    hour_params: list
    edges: str
    edge_params: list
    sealed: list[date]

    @property
    def crossing(self) -> tuple[str, list]:
        """CROSSING_ROWS_SQL and its parameters when days are sealed, else nothing."""
        return (CROSSING_ROWS_SQL, [self.project_id, self.sealed]) if self.sealed else ("", [])


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def around_days(start: datetime, end: datetime, days: list[date]) -> list[tuple[datetime, datetime]]:
    """[start, end) without the UTC days `days` (sorted, each inside it), as intervals."""
    segments = []
    moment = start
    for day in days:
        if moment < _day_start(day):
            segments.append((moment, _day_start(day)))
        moment = _day_start(day) + DAY
    if moment < end:
        segments.append((moment, end))
    return segments


def within(column: str, intervals: list[tuple[datetime, datetime]]) -> tuple[str, list[datetime]]:
    """A condition that `column` lies in one of `intervals` ([start, end) each), and its parameters."""
    condition = " OR ".join([f"({column} >= %s AND {column} < %s)"] * len(intervals)) or "FALSE"
    return condition, [moment for interval in intervals for moment in interval]


def _split(project_id: uuid.UUID, time_range: TimeRange, sealed: list[date] | None = None) -> Split:
    """The range split into sealed days (whole UTC days of its whole hours, as found by
    _sealed_days), the other whole hours, and the edges."""
    sealed = sorted(sealed or [])
    hours = whole_hours(time_range)
    hours_condition, hour_params = within("hour", around_days(hours.start, hours.end, sealed) if hours else [])
    edges_condition, edge_params = within(
        "e.occurred_at", [(edge.start, edge.end) for edge in outside_whole_hours(time_range)]
    )
    return Split(
        project_id=project_id,
        hours=hours_condition,
        hour_params=[project_id, *hour_params],
        edges=edges_condition,
        edge_params=[project_id, *edge_params],
        sealed=sealed,
    )


def _sealed_days(
    cursor: CursorWrapper, *, project_id: uuid.UUID, time_range: TimeRange, filters: Filters
) -> list[date]:
    """The UTC days inside the range's whole hours that are sealed and not stale, read in the
    cursor's snapshot. None for a filtered read: the aggregates count all sessions."""
    hours = whole_hours(time_range)
    if filters or hours is None:
        return []
    return sealed_days_within(cursor, project_id=project_id, start=hours.start, end=hours.end)


def sealed_days_within(cursor: CursorWrapper, *, project_id: uuid.UUID, start: datetime, end: datetime) -> list[date]:
    """The project's UTC days inside [start, end) that are sealed and not stale, in order, as
    the cursor's snapshot sees them."""
    first = start.astimezone(UTC).date()
    if _day_start(first) < start:
        first += DAY
    last = end.astimezone(UTC).date()
    if first >= last:
        return []
    cursor.execute(SEALED_DAYS_SQL, [project_id, first, last])
    return [day for (day,) in cursor.fetchall()]


SEALED_DAYS_SQL = f"""
SELECT day FROM {SEALED_DAYS}
WHERE project_id = %s AND day >= %s AND day < %s AND NOT stale AND sealed_at IS NOT NULL
ORDER BY day
"""


def _read_split(cursor: CursorWrapper, *, project_id: uuid.UUID, time_range: TimeRange, filters: Filters) -> Split:
    """The range split around its sealed days as the cursor's snapshot sees them."""
    return _split(
        project_id, time_range, _sealed_days(cursor, project_id=project_id, time_range=time_range, filters=filters)
    )


def _matching(filters: Filters, *, alias: str = "") -> tuple[str, list[str]]:
    """`AND column = %s ...` for the filters, on a rollup's columns or, with an alias, a
    session's; and its parameters. The column names are SESSION_DIMENSIONS, never the caller's."""
    unknown = set(filters) - set(SESSION_DIMENSIONS)
    if unknown:
        raise ValueError(f"not session dimensions: {sorted(unknown)}")
    columns = [column for column in SESSION_DIMENSIONS if column in filters]
    prefix = f"{alias}." if alias else ""
    return "".join(f" AND {prefix}{column} = %s" for column in columns), [filters[column] for column in columns]


def _edge_events(filters: Filters) -> tuple[str, str, list[str]]:
    """FROM and WHERE clauses of the raw events at the edges (alias `e`): joined to their
    session only when filtered by its values."""
    if not filters:
        return f"{EVENT} e", "", []
    condition, params = _matching(filters, alias="s")
    return EVENTS_WITH_SESSIONS, condition, params


@dataclass(frozen=True)
class SessionRollup:
    totals: Totals
    referrers: list[RankedValue]
    languages: list[RankedValue]
    screen_sizes: list[ScreenSize]
    dimensions: dict[str, list[RankedValue]]


def _ranked_key(row: RankedValue) -> tuple:
    # Most first; ties by value, a null value last (as Postgres sorts it).
    return (-row.count, row.value is None, row.value or "")


def _visits(*, split: Split, filters: Filters, per_session: str = ROLLUP_VISITS_SQL) -> tuple[str, list]:
    """A per-session statement (ROLLUP_VISITS_SQL, or one of its shape: whole hours' lone
    rows, spanning rows, then the edges' raw events) for the split range and filters, and its
    parameters."""
    matching, match_params = _matching(filters)
    edge_events, session_matching, session_params = _edge_events(filters)
    crossing, crossing_params = split.crossing
    spanning = SPANNING_ROWS_SQL.format(hours=split.hours, matching=matching) + crossing
    sql = per_session.format(
        hours=split.hours,
        spanning=spanning,
        edges=split.edges,
        matching=matching,
        edge_events=edge_events,
        session_matching=session_matching,
    )
    rows = [*split.hour_params, *match_params]
    return sql, [*rows, *rows, *crossing_params, *split.edge_params, *session_params]


def _estimated_visitors(cursor: CursorWrapper, split: Split) -> int:
    """Distinct anonIds of a range with sealed days: the union of the days' sketches and that
    of the other rows' anonIds (ingest/sketches.py), estimated."""
    cursor.execute(
        sketches.registers_sql(VISITOR_ROWS_SQL.format(hours=split.hours, edges=split.edges)),
        [*split.hour_params, *split.edge_params],
    )
    others = sketches.sketch(cursor.fetchall())
    # In binary: the sketches as they are stored, not as hex text twice their size (a third of
    # the time for 30 days).
    with psycopg.Cursor(cursor.connection) as binary:
        binary.execute(
            f"SELECT visitors FROM {SEALED_DAYS} WHERE project_id = %s AND day = ANY(%s)",
            [split.project_id, split.sealed],
            binary=True,
        )
        days = [sketches.from_bytes(stored) for (stored,) in binary.fetchall()]
    return round(sketches.estimate(sketches.union([others, *days])))


def _totals(*, sessions, events, views, viewed, bounced, visitors, cursor: CursorWrapper, split: Split) -> Totals:
    """Totals from a statement's sums; with sealed days, the visitors estimated."""
    estimated = bool(split.sealed)
    return Totals(
        page_views=int(views or 0),
        events=int(events or 0),
        sessions=int(sessions or 0),
        visitors=_estimated_visitors(cursor, split) if estimated else int(visitors),
        sessions_with_page_view=int(viewed or 0),
        bounced_sessions=int(bounced or 0),
        visitors_standard_error=sketches.STANDARD_ERROR if estimated else None,
    )


def session_totals(*, project_id: uuid.UUID, time_range: TimeRange, filters: Filters = NO_FILTERS) -> Totals:
    """The totals of `session_rollup` alone, without its breakdowns: what the trends need of
    the previous period, at a fraction of the cost."""
    with aggregate_cursor() as cursor:
        split = _read_split(cursor, project_id=project_id, time_range=time_range, filters=filters)
        visits, visits_params = _visits(split=split, filters=filters)
        visitors = "NULL" if split.sealed else VISITORS_COUNT_SQL
        cursor.execute(
            SESSION_TOTALS_SQL.format(visits=visits, visitors=visitors), [*visits_params, project_id, split.sealed]
        )
        sessions, events, views, viewed, bounced, visitors_found = cursor.fetchone()
        return _totals(
            sessions=sessions,
            events=events,
            views=views,
            viewed=viewed,
            bounced=bounced,
            visitors=visitors_found,
            cursor=cursor,
            split=split,
        )


def session_rollup(
    *, project_id: uuid.UUID, time_range: TimeRange, filters: Filters = NO_FILTERS, limit: int = TOP_N
) -> SessionRollup:
    """Totals, and sessions per referrer, language, screen size and session dimension, for
    the range's sessions that match the filters."""
    with aggregate_cursor() as cursor:
        split = _read_split(cursor, project_id=project_id, time_range=time_range, filters=filters)
        visits, visits_params = _visits(split=split, filters=filters)
        sql = SESSION_ROLLUP_SQL.format(visits=visits, visitors="" if split.sealed else VISITORS_ROW_SQL)
        cursor.execute(sql, [*visits_params, project_id, split.sealed, limit])
        rows = cursor.fetchall()
        by_dimension: dict[str, list[tuple]] = {}
        for dimension, *values in rows:
            by_dimension.setdefault(dimension, []).append(values)
        [(_label, _width, _height, sessions, events, views, viewed, bounced)] = by_dimension["totals"]
        visitors = by_dimension["visitors"][0][3] if "visitors" in by_dimension else None
        totals = _totals(
            sessions=sessions,
            events=events,
            views=views,
            viewed=viewed,
            bounced=bounced,
            visitors=visitors,
            cursor=cursor,
            split=split,
        )
    # UNION ALL does not promise to keep the ranking's order, so the few rows are re-sorted.
    ranked = {
        column: sorted(
            (
                RankedValue(value=label, count=int(count))
                for label, _w, _h, count, *_rest in by_dimension.get(column, [])
            ),
            key=_ranked_key,
        )
        for column in BREAKDOWN_COLUMNS
    }
    screen_sizes = sorted(
        (
            ScreenSize(width=width, height=height, sessions=int(count))
            for _label, width, height, count, *_rest in by_dimension.get("screen", [])
        ),
        key=lambda row: (
            -row.sessions,
            row.width is None,
            row.width or 0,
            row.height is None,
            row.height or 0,
        ),
    )
    return SessionRollup(
        totals=totals,
        referrers=ranked["referrer"],
        languages=ranked["language"],
        screen_sizes=screen_sizes,
        dimensions={column: ranked[column] for column in SESSION_DIMENSIONS},
    )


# Per session with an event in the range: its events, its first and last event, and the paths
# of its first and last page view (null without one), combined as ROLLUP_VISITS_SQL combines
# counts: a session's only row as it is, the rows of sessions that span hours with their raw
# events at the edges, taking the earliest and the latest. Hours do not overlap, so two rows
# never tie; page views at the same instant in the edges are ordered as the ingest statement
# orders them within an hour (ingest/statements.py). `untimed`: a row written before the rows
# held times (ingest migration 0010), counted nowhere here until rebuild_rollups fills it.
ROLLUP_VISIT_PAGES_SQL = f"""
SELECT events AS event_count, first_at, last_at, entry_path, exit_path, first_at IS NULL AS untimed
FROM {SESSION_HOUR}
WHERE project_id = %s AND ({{hours}}) AND NOT spans_hours {{matching}}
UNION ALL
SELECT SUM(events), MIN(first_at), MAX(last_at),
       (array_agg(entry_path ORDER BY first_view_at, entry_path COLLATE "C")
            FILTER (WHERE first_view_at IS NOT NULL))[1],
       (array_agg(exit_path ORDER BY last_view_at DESC, exit_path COLLATE "C" DESC)
            FILTER (WHERE last_view_at IS NOT NULL))[1],
       bool_or(events > 0 AND first_at IS NULL)
FROM (
    SELECT session_id, events, first_at, last_at, first_view_at, entry_path, last_view_at, exit_path
    FROM ({{spanning}}) AS h
    UNION ALL
    SELECT e.session_id, 1, e.occurred_at, e.occurred_at, viewed.at, viewed.path, viewed.at, viewed.path
    FROM {{edge_events}}
    CROSS JOIN LATERAL (
        SELECT CASE WHEN e.type = '{PAGE_VIEW}' THEN e.occurred_at END AS at,
               CASE WHEN e.type = '{PAGE_VIEW}' THEN e.path END AS path
    ) viewed
    WHERE e.project_id = %s AND ({{edges}}) {{session_matching}}
) parts
GROUP BY session_id
"""
# The durations (in microseconds) and the two lists, from one pass over the rollups:
# `visits` is materialized once and read by all. A session without events (the empty
# first-hour row the ingest statement may leave where retention took the rest) is none.
# With sealed days the median is found without sorting their visits (MEDIAN_BY_BINS): the
# durations are counted per bin (ingest.statements.DURATION_BIN_BOUNDS), with the sealed
# days' counts of the same bins; the one or two bins that hold the middle ranks ((n - 1) / 2
# and n / 2, from 0) are read value by value (the sealed days keep theirs sorted per bin), and
# the two middle values are picked by rank: exact. Without (MEDIAN_BY_SORT), percentile_cont
# sorts the range's visits, which costs less than binning them all (filtered, 30 days on 5
# million events: 3.8 s against 5.1 s).
# Entry and exit lists are one hashed aggregation of two grouping sets plus the sealed days'
# counts, ranked by count, then path byte by byte, as Python orders strings.
SESSION_PAGES_SQL = f"""
WITH visits AS MATERIALIZED ({{visits}}),
timed AS NOT MATERIALIZED (
    SELECT event_count, entry_path, exit_path, {VISIT_MICROS.format(last="last_at", first="first_at")} AS micros
    FROM visits WHERE event_count > 0 AND NOT untimed
),
{{middle}}
sealed AS (
    SELECT COALESCE(SUM(timed_sessions), 0) AS sessions, COALESCE(SUM(single_event_sessions), 0) AS single,
           COALESCE(SUM(duration_us), 0) AS micros
    FROM {SEALED_DAYS} WHERE project_id = %s AND day = ANY(%s)
)
SELECT 'duration', NULL,
       (SELECT COUNT(*) FROM timed) + (SELECT sessions FROM sealed),
       (SELECT COUNT(*) FILTER (WHERE event_count = 1) FROM timed) + (SELECT single FROM sealed),
       {{low}}, {{high}},
       (SELECT COALESCE(SUM(micros), 0) FROM timed) + (SELECT micros FROM sealed)
UNION ALL
SELECT list, path, sessions, NULL, NULL, NULL, NULL
FROM (
    SELECT list, path, sessions,
           row_number() OVER (PARTITION BY list ORDER BY sessions DESC, path COLLATE "C") AS place
    FROM (
        SELECT list, path, SUM(sessions) AS sessions
        FROM (
            SELECT {ENTRY_EXIT_NAME} AS list, {ENTRY_EXIT_PATH} AS path, COUNT(*) AS sessions
            FROM timed WHERE entry_path IS NOT NULL
            GROUP BY {ENTRY_EXIT_SETS}
            UNION ALL
            SELECT dimension, value, sessions FROM {SEALED_COUNTS}
            WHERE project_id = %s AND day = ANY(%s) AND dimension IN ('entry', 'exit')
        ) AS parts
        GROUP BY list, path
    ) counted
) ranked
WHERE place <= %s
"""

# The middle visit(s) without sealed days: percentile_cont sorts the range's visits once, the
# median itself standing for both the lower and the upper middle value.
MEDIAN_BY_SORT = {
    "middle": """
sorted AS MATERIALIZED (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY micros) AS median FROM timed),""",
    "low": "(SELECT median FROM sorted)",
    "high": "(SELECT median FROM sorted)",
}
# With sealed days, whose visits are kept per bin: the visits per bin of both, the one or two
# bins holding the middle ranks, and those bins' values ranked. Parameters: the bounds, then
# the project and the sealed days twice.
MEDIAN_BY_BINS = {
    "middle": f"""
binned AS MATERIALIZED (SELECT micros, width_bucket(micros, %s::bigint[]) AS bin FROM timed),
placed AS (
    SELECT bin, n, (SUM(n) OVER (ORDER BY bin))::bigint - n AS below, (SUM(n) OVER ())::bigint AS total
    FROM (
        SELECT bin, SUM(n)::bigint AS n
        FROM (
            SELECT bin, COUNT(*) AS n FROM binned GROUP BY bin
            UNION ALL
            SELECT bin, sessions FROM {SEALED_DURATIONS} WHERE project_id = %s AND day = ANY(%s)
        ) AS b
        GROUP BY bin
    ) AS bins
),
middle AS MATERIALIZED (
    SELECT bin, below, total FROM placed WHERE below <= total / 2 AND below + n > (total - 1) / 2
),
ranked AS MATERIALIZED (
    SELECT micros, row_number() OVER (ORDER BY micros) - 1 + (SELECT MIN(below) FROM middle) AS place
    FROM (
        SELECT micros FROM binned WHERE bin IN (SELECT bin FROM middle)
        UNION ALL
        SELECT unnest(micros) FROM {SEALED_DURATIONS}
        WHERE project_id = %s AND day = ANY(%s) AND bin IN (SELECT bin FROM middle)
    ) AS values_in_middle
),""",
    "low": "(SELECT micros FROM ranked WHERE place = (SELECT (MIN(total) - 1) / 2 FROM middle))",
    "high": "(SELECT micros FROM ranked WHERE place = (SELECT MIN(total) / 2 FROM middle))",
}


@dataclass(frozen=True)
class SessionPages:
    entry_pages: list[RankedValue]
    exit_pages: list[RankedValue]
    visit_duration: VisitDuration


def session_pages_and_durations(
    *, project_id: uuid.UUID, time_range: TimeRange, filters: Filters = NO_FILTERS, limit: int = TOP_N
) -> SessionPages:
    """Sessions per entry and exit page, and the median and mean visit duration, for the
    range's sessions that match the filters (definitions: docs/insights.md)."""
    with aggregate_cursor() as cursor:
        split = _read_split(cursor, project_id=project_id, time_range=time_range, filters=filters)
        visits, params = _visits(split=split, filters=filters, per_session=ROLLUP_VISIT_PAGES_SQL)
        sealed = [project_id, split.sealed]
        median, median_params = (
            (MEDIAN_BY_BINS, [DURATION_BIN_BOUNDS, *sealed, *sealed]) if split.sealed else (MEDIAN_BY_SORT, [])
        )
        cursor.execute(
            SESSION_PAGES_SQL.format(visits=visits, **median), [*params, *median_params, *sealed, *sealed, limit]
        )
        rows = cursor.fetchall()
    lists: dict[str, list[RankedValue]] = {"entry": [], "exit": []}
    duration = None
    for kind, path, count, single, low_us, high_us, total_us in rows:
        if kind == "duration":
            # Halfway between the two middle visits (the same one when they are odd in number),
            # as the reference computes it.
            median_us = None if low_us is None else low_us + (high_us - low_us) / 2
            duration = visit_duration(
                sessions=int(count), single_event_sessions=int(single), median_us=median_us, total_us=int(total_us)
            )
        else:
            lists[kind].append(RankedValue(value=path, count=int(count)))
    return SessionPages(
        # UNION ALL does not promise to keep the ranking's order.
        entry_pages=sorted(lists["entry"], key=_ranked_key),
        exit_pages=sorted(lists["exit"], key=_ranked_key),
        visit_duration=duration,
    )


# Sessions per bucket: a session's only row counts once in its bucket (rows are counted per
# hour first, so that the time zone arithmetic of date_trunc runs once per hour rather than
# once per row); the rows of sessions that span hours and the raw events at the edges are
# first reduced to (bucket, session) pairs; a sealed day adds its totals to its bucket. Buckets
# are UTC hours, or days of the project's zone; the hours in which such a day begins mid-hour
# are read from raw events, like the edges: one index scan per hour, in the day partition that
# holds it (OFFSET 0 keeps the scan inside the loop over the hours; the bounds of all the hours
# leave out the partitions outside them when planning). A condition per hour instead cost
# seconds of planning over a year of partitions, and a plain join the planner may turn into a
# scan of every event.
ROLLUP_SERIES_SQL = f"""
SELECT date_trunc(%s, moment, %s) AS bucket, SUM(page_views), SUM(sessions)
FROM (
    SELECT hour AS moment, SUM(page_views) AS page_views, COUNT(*) AS sessions
    FROM {SESSION_HOUR}
    WHERE project_id = %s AND ({{hours}}) AND NOT spans_hours {{matching}} {{split_hours}}
    GROUP BY hour
    UNION ALL
    SELECT bucket, SUM(page_views), 1
    FROM (
        SELECT date_trunc(%s, hour, %s) AS bucket, session_id, page_views
        FROM ({{spanning}}) AS h WHERE TRUE {{split_hours}}
        UNION ALL
        SELECT date_trunc(%s, e.occurred_at, %s), e.session_id, CASE WHEN e.type = '{PAGE_VIEW}' THEN 1 ELSE 0 END
        FROM {{edge_events}} WHERE e.project_id = %s AND ({{edges}}) {{session_matching}}
        {{split_events}}
    ) parts
    GROUP BY bucket, session_id
    UNION ALL
    SELECT day::timestamp AT TIME ZONE 'UTC', page_views, sessions
    FROM {SEALED_COUNTS} WHERE project_id = %s AND day = ANY(%s) AND dimension = 'totals'
) counted
GROUP BY 1
"""
SPLIT_EVENTS_SQL = f"""
        UNION ALL
        SELECT date_trunc(%s, in_hour.occurred_at, %s), in_hour.session_id, in_hour.view
        FROM unnest(%s::timestamptz[]) AS split(hour) CROSS JOIN LATERAL (
            SELECT e.occurred_at, e.session_id, CASE WHEN e.type = '{PAGE_VIEW}' THEN 1 ELSE 0 END AS view
            FROM {{edge_events}}
            WHERE e.project_id = %s AND e.occurred_at >= split.hour AND e.occurred_at < split.hour + interval '1 hour'
                AND e.occurred_at >= %s AND e.occurred_at < %s {{session_matching}}
            OFFSET 0
        ) in_hour
"""


def _in_one_bucket(day: date, interval: Interval, time_zone: str) -> bool:
    """Whether a whole UTC day falls in one bucket of the series: a day of a zone that is
    on UTC that day (UTC itself, London in winter); never an hour."""
    start = _day_start(day)
    last = start + DAY - timedelta(microseconds=1)
    return interval is Interval.DAY and bucket_of(start, interval, time_zone) == bucket_of(last, interval, time_zone)


def traffic_series(
    *, project_id: uuid.UUID, time_range: TimeRange, interval: Interval, filters: Filters = NO_FILTERS
) -> list[Bucket]:
    """Page views and active sessions per UTC hour or per day of the range's time zone;
    empty buckets are included."""
    matching, match_params = _matching(filters)
    edge_events, session_matching, session_params = _edge_events(filters)
    # Hours are UTC hours whatever the zone: the rollups count per UTC hour.
    bucket = [str(interval), time_range.time_zone if interval is Interval.DAY else "UTC"]
    split_at = hours_across_days(time_range) if interval is Interval.DAY else []
    split_hours, split_params, split_events, split_event_params = "", [], "", []
    if split_at:
        split_hours, split_params = "AND hour <> ALL(%s)", [split_at]
        split_events = SPLIT_EVENTS_SQL.format(edge_events=edge_events, session_matching=session_matching)
        split_event_params = [
            *bucket,
            split_at,
            project_id,
            split_at[0],
            split_at[-1] + Interval.HOUR.step,
            *session_params,
        ]
    with aggregate_cursor() as cursor:
        sealed = [
            day
            for day in _sealed_days(cursor, project_id=project_id, time_range=time_range, filters=filters)
            if _in_one_bucket(day, interval, time_range.time_zone)
        ]
        split = _split(project_id, time_range, sealed)
        crossing, crossing_params = split.crossing
        sql = ROLLUP_SERIES_SQL.format(
            hours=split.hours,
            spanning=SPANNING_ROWS_SQL.format(hours=split.hours, matching=matching) + crossing,
            edges=split.edges,
            matching=matching,
            split_hours=split_hours,
            edge_events=edge_events,
            session_matching=session_matching,
            split_events=split_events,
        )
        lone = [*split.hour_params, *match_params, *split_params]
        spanning = [*split.hour_params, *match_params, *crossing_params, *split_params]
        params = [*bucket, *lone, *bucket, *spanning, *bucket, *split.edge_params, *session_params]
        cursor.execute(sql, [*params, *split_event_params, project_id, split.sealed])
        # Keyed by the bucket's start as bucket_starts writes it, whichever way the database
        # resolves a local midnight the clocks repeat.
        found = {
            bucket_of(start, interval, time_range.time_zone): (int(views), int(sessions))
            for start, views, sessions in cursor.fetchall()
        }
    return [
        Bucket(start=start, page_views=found.get(start, (0, 0))[0], sessions=found.get(start, (0, 0))[1])
        for start in bucket_starts(time_range, interval)
    ]


# Compacted and not yet compacted hourly counts for whole hours, raw events for the edges.
# Compacted: unfiltered, the rows over all sessions; filtered, those per combination of the
# session dimensions that match. Not yet compacted: the rows per combination (those that
# match, filtered), the only ones a batch appends; rows over all sessions that older releases
# appended beside them repeat them and are left out.
ROLLUP_TOP_SQL = f"""
SELECT value, SUM(count) AS n
FROM (
    SELECT value, count FROM {HourlyCount._meta.db_table}
    WHERE project_id = %s AND ({{hours}}) AND dimension = %s AND by_dimensions = %s {{matching}}
    UNION ALL
    SELECT value, count FROM {HourlyCountDelta._meta.db_table}
    WHERE project_id = %s AND ({{hours}}) AND dimension = %s AND by_dimensions {{matching}}
    UNION ALL
    SELECT e.{{field}}, 1 FROM {{edge_events}}
    WHERE e.project_id = %s AND ({{edges}}) {{only_page_views}} {{session_matching}}
    UNION ALL
    SELECT value, sessions FROM {SEALED_COUNTS} WHERE project_id = %s AND day = ANY(%s) AND dimension = %s
) counted
GROUP BY value
-- An erased visitor's counts are cancelled by negative rows: a value they leave at 0 is gone.
HAVING SUM(count) > 0
ORDER BY n DESC, value
LIMIT %s
"""


def _top(
    *, project_id: uuid.UUID, time_range: TimeRange, field: str, filters: Filters, limit: int
) -> list[RankedValue]:
    """Page views per path or events per type, the `limit` most frequent."""
    matching, match_params = _matching(filters)
    edge_events, session_matching, session_params = _edge_events(filters)
    only_page_views = f"AND e.type = '{PAGE_VIEW}'" if field == HourlyCount.Dimension.PATH else ""
    # Summing counts, not hashing sessions: the planner's own settings.
    with aggregate_cursor(settings=()) as cursor:
        split = _read_split(cursor, project_id=project_id, time_range=time_range, filters=filters)
        sql = ROLLUP_TOP_SQL.format(
            field=field,
            hours=split.hours,
            edges=split.edges,
            only_page_views=only_page_views,
            matching=matching,
            edge_events=edge_events,
            session_matching=session_matching,
        )
        compacted = [*split.hour_params, field, bool(filters), *match_params]
        deltas = [*split.hour_params, field, *match_params]
        sealed = [project_id, split.sealed, field]
        cursor.execute(sql, [*compacted, *deltas, *split.edge_params, *session_params, *sealed, limit])
        return [RankedValue(value=value, count=int(count)) for value, count in cursor.fetchall()]


def top_paths(
    *, project_id: uuid.UUID, time_range: TimeRange, filters: Filters = NO_FILTERS, limit: int = TOP_N
) -> list[RankedValue]:
    return _top(project_id=project_id, time_range=time_range, field="path", filters=filters, limit=limit)


def top_event_types(
    *, project_id: uuid.UUID, time_range: TimeRange, filters: Filters = NO_FILTERS, limit: int = TOP_N
) -> list[RankedValue]:
    return _top(project_id=project_id, time_range=time_range, field="type", filters=filters, limit=limit)


def filtered_bot_requests(*, project_id: uuid.UUID, time_range: TimeRange) -> int:
    """Requests refused as bots in the UTC hours that begin in the range: they are counted
    per hour of arrival, so an hour is all in or all out."""
    hours = FilteredBotHour.objects.using(read_alias()).filter(
        project_id=project_id, hour__gte=time_range.start, hour__lt=time_range.end
    )
    return hours.aggregate(requests=Sum("requests"))["requests"] or 0


def traffic_stats(
    *,
    project_id: uuid.UUID,
    time_range: TimeRange,
    interval: Interval,
    filters: Filters = NO_FILTERS,
    limit: int = TOP_N,
) -> TrafficStats:
    """Everything the dashboard and GET /v1/projects/<id>/stats show, for one range and the
    sessions that match the filters."""
    scope = {"project_id": project_id, "time_range": time_range, "filters": filters}
    previous = {**scope, "time_range": time_range.previous}
    sessions = session_rollup(**scope, limit=limit)
    pages = session_pages_and_durations(**scope, limit=limit)
    return TrafficStats(
        project_id=project_id,
        time_range=time_range,
        interval=interval,
        filters=dict(filters),
        totals=sessions.totals,
        series=traffic_series(**scope, interval=interval),
        top_paths=top_paths(**scope, limit=limit),
        top_referrers=sessions.referrers,
        top_event_types=top_event_types(**scope, limit=limit),
        languages=sessions.languages,
        screen_sizes=sessions.screen_sizes,
        filtered_bots=filtered_bot_requests(project_id=project_id, time_range=time_range),
        dimensions=sessions.dimensions,
        entry_pages=pages.entry_pages,
        exit_pages=pages.exit_pages,
        visit_duration=pages.visit_duration,
        previous_totals=session_totals(**previous),
        # Without the lists (a limit of 0): only the durations are compared.
        previous_visit_duration=session_pages_and_durations(**previous, limit=0).visit_duration,
    )


REALTIME_MINUTES = 30
REALTIME_VISITOR_WINDOW = timedelta(minutes=5)
REALTIME_CACHE_SECONDS = 5


@dataclass(frozen=True)
class Realtime:
    """Visitors of the last 5 minutes and page views per minute of the last 30 (UTC), the
    last minute being the current one, still running."""

    project_id: uuid.UUID
    at: datetime
    visitors: int
    per_minute: list[Bucket]


def realtime_traffic(*, project_id: uuid.UUID, now: datetime) -> Realtime:
    """Read from the raw events of the last 30 minutes (through the (project, occurred_at)
    index): the rollups' hours are too coarse. Page views per minute are in `Bucket.page_views`;
    `Bucket.sessions` are the sessions with an event in that minute."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    starts = [end - timedelta(minutes=REALTIME_MINUTES - index) for index in range(REALTIME_MINUTES)]
    recent = Event.objects.using(read_alias()).filter(
        project_id=project_id, occurred_at__gte=starts[0], occurred_at__lt=end
    )
    counted = {
        row["minute"]: row
        for row in recent.annotate(minute=TruncMinute("occurred_at", tzinfo=UTC))
        .values("minute")
        .annotate(views=Count("id", filter=Q(type=PAGE_VIEW)), sessions=Count("session_id", distinct=True))
    }
    # Visitors are the sessions' anonIds; the sessions are matched on the project too.
    visitors = recent.filter(occurred_at__gte=now - REALTIME_VISITOR_WINDOW, session__project_id=project_id).aggregate(
        visitors=Count("session__anon_id", distinct=True)
    )["visitors"]
    per_minute = [
        Bucket(
            start=start,
            page_views=counted.get(start, {}).get("views", 0),
            sessions=counted.get(start, {}).get("sessions", 0),
        )
        for start in starts
    ]
    return Realtime(project_id=project_id, at=now, visitors=visitors, per_minute=per_minute)


def cached_realtime_traffic(*, project_id: uuid.UUID, now: datetime) -> Realtime:
    """realtime_traffic, kept for a few seconds per project: every open dashboard polls it,
    and many staff watching one project then cost one query every few seconds."""
    key = f"insights:realtime:{project_id}"
    found = cache.get(key)
    if found is None:
        found = realtime_traffic(project_id=project_id, now=now)
        cache.set(key, found, timeout=REALTIME_CACHE_SECONDS)
    return found
