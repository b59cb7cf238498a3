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
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from ingest.models import Event, HourlyCount, HourlyCountDelta, Session, SessionHour
from insights.time_ranges import Interval, TimeRange, bucket_starts, outside_whole_hours, whole_hours

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

    @property
    def events_per_session(self) -> float | None:
        return self.events / self.sessions if self.sessions else None

    @property
    def bounce_rate(self) -> float | None:
        if not self.sessions_with_page_view:
            return None
        return self.bounced_sessions / self.sessions_with_page_view


@dataclass(frozen=True)
class Bucket:
    start: datetime
    page_views: int
    sessions: int


@dataclass(frozen=True)
class RankedValue:
    """One row of a top list: a value and how many page views, events or sessions had it."""

    value: str
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


# Totals and the per-session breakdowns come from one statement: the range's events are
# grouped per session once (`visits`), and every number is read off that set. Separate
# queries would scan the range five times. Sessions are counted per combination of referrer,
# language and screen in one pass, and each breakdown sums those few combinations.
# Visitors are counted over a GROUP BY, which hashes, rather than COUNT(DISTINCT), which
# sorts every anonId and took twice as long on 1.5 million sessions. NOT MATERIALIZED inlines
# `visits` into its two readers rather than writing a month of sessions to a temporary store
# first: each reader then scans what it needs, estimated from the tables' statistics.
SESSION_ROLLUP_SQL = """
WITH visits AS NOT MATERIALIZED ({visits}),
combinations AS (
    SELECT referrer, language, screen_width, screen_height, COUNT(*) AS sessions,
           SUM(event_count) AS events, SUM(view_count) AS views,
           SUM(CASE WHEN view_count >= 1 THEN 1 ELSE 0 END) AS viewed,
           SUM(CASE WHEN view_count = 1 THEN 1 ELSE 0 END) AS bounced
    FROM visits GROUP BY referrer, language, screen_width, screen_height
)
SELECT 'totals', {no_text}, {no_int}, {no_int}, COALESCE(SUM(sessions), 0), SUM(events), SUM(views),
       SUM(viewed), SUM(bounced)
FROM combinations
UNION ALL
SELECT 'visitors', {no_text}, {no_int}, {no_int}, COUNT(*), {no_counts}
FROM (SELECT anon_id FROM visits GROUP BY anon_id) visitors
UNION ALL
SELECT * FROM (
    SELECT 'referrer', referrer, {no_int}, {no_int}, SUM(sessions), {no_counts}
    FROM combinations GROUP BY referrer ORDER BY 5 DESC, 2 LIMIT %s
) referrers
UNION ALL
SELECT * FROM (
    SELECT 'language', language, {no_int}, {no_int}, SUM(sessions), {no_counts}
    FROM combinations GROUP BY language ORDER BY 5 DESC, 2 LIMIT %s
) languages
UNION ALL
SELECT * FROM (
    SELECT 'screen', {no_text}, screen_width, screen_height, SUM(sessions), {no_counts}
    FROM combinations GROUP BY screen_width, screen_height
    ORDER BY 5 DESC, screen_width IS NULL, screen_width, screen_height IS NULL, screen_height
    LIMIT %s
) screens
"""
# Typed NULLs: a bare NULL inside a derived table becomes text on Postgres, and UNION ALL
# then refuses to match it with the numbers of the totals row.
NO_INT = "CAST(NULL AS BIGINT)"
NO_TEXT = "CAST(NULL AS VARCHAR(1))"
SESSION = Session._meta.db_table
EVENT = Event._meta.db_table
SESSION_HOUR = SessionHour._meta.db_table
# Per session with an event in the range: its events, page views and dimensions, from the
# rollups for whole hours and from raw events for the edges. A session whose
# only row is in the range is complete as it is; the rows of sessions that span hours are added
# up per session with their raw events at the edges (a session's dimensions are the same in
# every row of it). Grouping only those keeps the hash table small.
ROLLUP_VISITS_SQL = f"""
SELECT events AS event_count, page_views AS view_count,
       anon_id, referrer, language, screen_width, screen_height
FROM {SESSION_HOUR}
WHERE project_id = %s AND hour >= %s AND hour < %s AND NOT spans_hours
UNION ALL
SELECT SUM(events), SUM(page_views), anon_id, referrer, language, screen_width, screen_height
FROM (
    SELECT session_id, events, page_views, anon_id, referrer, language, screen_width, screen_height
    FROM {SESSION_HOUR} WHERE project_id = %s AND hour >= %s AND hour < %s AND spans_hours
    UNION ALL
    SELECT e.session_id, 1, CASE WHEN e.type = '{PAGE_VIEW}' THEN 1 ELSE 0 END,
           s.anon_id, s.referrer, s.language, s.screen_width, s.screen_height
    FROM {EVENT} e JOIN {SESSION} s ON s.id = e.session_id
    WHERE e.project_id = %s AND ({{edges}})
) parts
GROUP BY session_id, anon_id, referrer, language, screen_width, screen_height
"""

# Room to hash a month of sessions (or visitors) in memory instead of spilling them to disk,
# which took twice as long; grouping by hashing, as the planner cannot tell how few
# combinations of referrer, language and screen there are and would sort 1.5 million sessions
# to group them (2 s instead of 0.2); no JIT compilation, which costs tens of milliseconds on
# every call (the statement is planned anew each time) and saves none.
AGGREGATE_SETTINGS = ("SET LOCAL work_mem = '64MB'", "SET LOCAL enable_sort = off", "SET LOCAL jit = off")


@contextmanager
def _aggregate_cursor() -> Iterator[CursorWrapper]:
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in AGGREGATE_SETTINGS:
            cursor.execute(setting)
        yield cursor


def _split(project_id: uuid.UUID, time_range: TimeRange, *, column: str = "occurred_at") -> tuple[list, str, list]:
    """Parameters (project, first and end hour) of the rollup part of the range, and the
    condition on raw events (with its parameters) that covers the rest."""
    hours = whole_hours(time_range)
    # An empty hour range when the range holds no whole hour: then the edges are all of it.
    first, end = (hours.start, hours.end) if hours else (time_range.start, time_range.start)
    edges = outside_whole_hours(time_range)
    condition = " OR ".join([f"({column} >= %s AND {column} < %s)"] * len(edges)) or "FALSE"
    edge_params = [moment for edge in edges for moment in (edge.start, edge.end)]
    return [project_id, first, end], condition, [project_id, *edge_params]


@dataclass(frozen=True)
class SessionRollup:
    totals: Totals
    referrers: list[RankedValue]
    languages: list[RankedValue]
    screen_sizes: list[ScreenSize]


def session_rollup(*, project_id: uuid.UUID, time_range: TimeRange, limit: int = TOP_N) -> SessionRollup:
    """Totals, and sessions per referrer, language and screen size, for the range."""
    hour_params, edges, edge_params = _split(project_id, time_range, column="e.occurred_at")
    visits_params = [*hour_params, *hour_params, *edge_params]
    sql = SESSION_ROLLUP_SQL.format(
        visits=ROLLUP_VISITS_SQL.format(edges=edges),
        no_int=NO_INT,
        no_text=NO_TEXT,
        no_counts=", ".join([NO_INT] * 4),
    )
    with _aggregate_cursor() as cursor:
        cursor.execute(sql, [*visits_params, limit, limit, limit])
        rows = cursor.fetchall()
    by_dimension: dict[str, list[tuple]] = {}
    for dimension, *values in rows:
        by_dimension.setdefault(dimension, []).append(values)
    [(_label, _width, _height, sessions, events, views, viewed, bounced)] = by_dimension["totals"]
    [visitors_row] = by_dimension["visitors"]
    totals = Totals(
        page_views=int(views or 0),
        events=int(events or 0),
        sessions=int(sessions),
        visitors=int(visitors_row[3]),
        sessions_with_page_view=int(viewed or 0),
        bounced_sessions=int(bounced or 0),
    )
    # UNION ALL does not promise to keep each branch's order, so the few rows are re-sorted.
    ranked = {
        dimension: sorted(
            (RankedValue(value=label, count=int(count)) for label, _w, _h, count, *_rest in found),
            key=lambda row: (-row.count, row.value),
        )
        for dimension, found in by_dimension.items()
        if dimension in ("referrer", "language")
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
        referrers=ranked.get("referrer", []),
        languages=ranked.get("language", []),
        screen_sizes=screen_sizes,
    )


# Sessions per bucket: a session's only row counts once in its bucket (rows are counted per
# hour first, so that the time zone arithmetic of date_trunc runs once per hour rather than
# once per row); the rows of sessions that span hours and the raw events at the edges are
# first reduced to (bucket, session) pairs.
ROLLUP_SERIES_SQL = f"""
SELECT date_trunc(%s, moment, 'UTC') AS bucket, SUM(page_views), SUM(sessions)
FROM (
    SELECT hour AS moment, SUM(page_views) AS page_views, COUNT(*) AS sessions
    FROM {SESSION_HOUR} WHERE project_id = %s AND hour >= %s AND hour < %s AND NOT spans_hours
    GROUP BY hour
    UNION ALL
    SELECT bucket, SUM(page_views), 1
    FROM (
        SELECT date_trunc(%s, hour, 'UTC') AS bucket, session_id, page_views
        FROM {SESSION_HOUR} WHERE project_id = %s AND hour >= %s AND hour < %s AND spans_hours
        UNION ALL
        SELECT date_trunc(%s, occurred_at, 'UTC'), session_id, CASE WHEN type = '{PAGE_VIEW}' THEN 1 ELSE 0 END
        FROM {EVENT} WHERE project_id = %s AND ({{edges}})
    ) parts
    GROUP BY bucket, session_id
) counted
GROUP BY 1
"""


def traffic_series(*, project_id: uuid.UUID, time_range: TimeRange, interval: Interval) -> list[Bucket]:
    """Page views and active sessions per UTC hour or day; empty buckets are included."""
    hour_params, edges, edge_params = _split(project_id, time_range)
    unit = str(interval)
    with _aggregate_cursor() as cursor:
        cursor.execute(
            ROLLUP_SERIES_SQL.format(edges=edges),
            [unit, *hour_params, unit, *hour_params, unit, *edge_params],
        )
        found = {bucket: (int(views), int(sessions)) for bucket, views, sessions in cursor.fetchall()}
    return [
        Bucket(start=start, page_views=found.get(start, (0, 0))[0], sessions=found.get(start, (0, 0))[1])
        for start in bucket_starts(time_range, interval)
    ]


# Compacted and not yet compacted hourly counts for whole hours, raw events for the edges.
ROLLUP_TOP_SQL = f"""
SELECT value, SUM(count) AS n
FROM (
    SELECT value, count FROM {HourlyCount._meta.db_table}
    WHERE project_id = %s AND hour >= %s AND hour < %s AND dimension = %s
    UNION ALL
    SELECT value, count FROM {HourlyCountDelta._meta.db_table}
    WHERE project_id = %s AND hour >= %s AND hour < %s AND dimension = %s
    UNION ALL
    SELECT {{field}}, 1 FROM {EVENT} WHERE project_id = %s AND ({{edges}}) {{only_page_views}}
) counted
GROUP BY value
-- An erased visitor's counts are cancelled by negative rows: a value they leave at 0 is gone.
HAVING SUM(count) > 0
ORDER BY n DESC, value
LIMIT %s
"""


def _top(*, project_id: uuid.UUID, time_range: TimeRange, field: str, limit: int) -> list[RankedValue]:
    """Page views per path or events per type, the `limit` most frequent."""
    hour_params, edges, edge_params = _split(project_id, time_range)
    only_page_views = f"AND type = '{PAGE_VIEW}'" if field == HourlyCount.Dimension.PATH else ""
    sql = ROLLUP_TOP_SQL.format(field=field, edges=edges, only_page_views=only_page_views)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*hour_params, field, *hour_params, field, *edge_params, limit])
        return [RankedValue(value=value, count=int(count)) for value, count in cursor.fetchall()]


def top_paths(*, project_id: uuid.UUID, time_range: TimeRange, limit: int = TOP_N) -> list[RankedValue]:
    return _top(project_id=project_id, time_range=time_range, field="path", limit=limit)


def top_event_types(*, project_id: uuid.UUID, time_range: TimeRange, limit: int = TOP_N) -> list[RankedValue]:
    return _top(project_id=project_id, time_range=time_range, field="type", limit=limit)


def traffic_stats(
    *, project_id: uuid.UUID, time_range: TimeRange, interval: Interval, limit: int = TOP_N
) -> TrafficStats:
    """Everything the dashboard and GET /v1/projects/<id>/stats show, for one range."""
    scope = {"project_id": project_id, "time_range": time_range}
    sessions = session_rollup(**scope, limit=limit)
    return TrafficStats(
        project_id=project_id,
        time_range=time_range,
        interval=interval,
        totals=sessions.totals,
        series=traffic_series(**scope, interval=interval),
        top_paths=top_paths(**scope, limit=limit),
        top_referrers=sessions.referrers,
        top_event_types=top_event_types(**scope, limit=limit),
        languages=sessions.languages,
        screen_sizes=sessions.screen_sizes,
    )
