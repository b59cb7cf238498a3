"""Reads over the raw event tables: a project's traffic numbers for a time range.

Every number is computed by the database from the events whose `occurred_at` falls in the
range [start, end) (UTC), a filter the (project, occurred_at) index serves; Python only
shapes the aggregated rows. The definitions, which the README repeats:

- page views: events of type `page_view`; events: events of any type;
- sessions: distinct sessions with at least one event in the range;
- visitors: distinct anonIds among those sessions;
- events per session: events / sessions;
- bounce rate: sessions with exactly one page view in the range, over sessions with at
  least one page view in the range;
- in the time series a session counts in every bucket in which it had an event, so bucket
  sessions can add up to more than the total, while bucket page views add up to the total;
- referrers, languages and screen sizes count sessions (with an event in the range) by the
  value the session started with; paths count page views; event types count events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Trunc

from ingest.models import Event, Session
from ingest.time_ranges import Interval, TimeRange, bucket_starts

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
    time_range: TimeRange
    interval: Interval
    totals: Totals
    series: list[Bucket]
    top_paths: list[RankedValue]
    top_referrers: list[RankedValue]
    top_event_types: list[RankedValue]
    languages: list[RankedValue]
    screen_sizes: list[ScreenSize]


def events_in_range(*, project_id: uuid.UUID, time_range: TimeRange) -> QuerySet[Event]:
    return Event.objects.filter(
        project_id=project_id, occurred_at__gte=time_range.start, occurred_at__lt=time_range.end
    )


# Totals and the per-session breakdowns come from one statement: the range's events are
# grouped per session once (the inner query, compiled by the ORM), joined to their sessions,
# and every number is read off that set. Separate queries would scan the range five times.
# Visitors are counted over a GROUP BY, which hashes, rather than COUNT(DISTINCT), which
# sorts every anonId and took twice as long on 1.5 million sessions.
SESSION_ROLLUP_SQL = """
WITH active AS ({active}),
visits AS (
    SELECT active.event_count, active.view_count, sessions.anon_id, sessions.referrer,
           sessions.language, sessions.screen_width, sessions.screen_height
    FROM active JOIN {session_table} sessions ON sessions.id = active.session_id
)
SELECT 'totals', {no_text}, {no_int}, {no_int}, COUNT(*), SUM(event_count), SUM(view_count),
       SUM(CASE WHEN view_count >= 1 THEN 1 ELSE 0 END),
       SUM(CASE WHEN view_count = 1 THEN 1 ELSE 0 END)
FROM visits
UNION ALL
SELECT 'visitors', {no_text}, {no_int}, {no_int}, COUNT(*), {no_counts}
FROM (SELECT anon_id FROM visits GROUP BY anon_id) visitors
UNION ALL
SELECT * FROM (
    SELECT 'referrer', referrer, {no_int}, {no_int}, COUNT(*), {no_counts}
    FROM visits GROUP BY referrer ORDER BY 5 DESC, 2 LIMIT %s
) referrers
UNION ALL
SELECT * FROM (
    SELECT 'language', language, {no_int}, {no_int}, COUNT(*), {no_counts}
    FROM visits GROUP BY language ORDER BY 5 DESC, 2 LIMIT %s
) languages
UNION ALL
SELECT * FROM (
    SELECT 'screen', {no_text}, screen_width, screen_height, COUNT(*), {no_counts}
    FROM visits GROUP BY screen_width, screen_height
    ORDER BY 5 DESC, screen_width IS NULL, screen_width, screen_height IS NULL, screen_height
    LIMIT %s
) screens
"""
# Typed NULLs: a bare NULL inside a derived table becomes text on Postgres, and UNION ALL
# then refuses to match it with the numbers of the totals row.
NO_INT = "CAST(NULL AS BIGINT)"
NO_TEXT = "CAST(NULL AS VARCHAR(1))"


@dataclass(frozen=True)
class SessionRollup:
    totals: Totals
    referrers: list[RankedValue]
    languages: list[RankedValue]
    screen_sizes: list[ScreenSize]


def session_rollup(*, project_id: uuid.UUID, time_range: TimeRange, limit: int = TOP_N) -> SessionRollup:
    """Totals, and sessions per referrer, language and screen size, for the range."""
    active = (
        events_in_range(project_id=project_id, time_range=time_range)
        .values("session_id")
        .annotate(event_count=Count("pk"), view_count=Count("pk", filter=Q(type=PAGE_VIEW)))
        .order_by()
    )
    active_sql, active_params = active.query.sql_with_params()
    sql = SESSION_ROLLUP_SQL.format(
        active=active_sql,
        session_table=connection.ops.quote_name(Session._meta.db_table),
        no_int=NO_INT,
        no_text=NO_TEXT,
        no_counts=", ".join([NO_INT] * 4),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*active_params, limit, limit, limit])
        rows = cursor.fetchall()
    by_dimension: dict[str, list[tuple]] = {}
    for dimension, *values in rows:
        by_dimension.setdefault(dimension, []).append(values)
    [(_label, _width, _height, sessions, events, views, viewed, bounced)] = by_dimension["totals"]
    [visitors_row] = by_dimension["visitors"]
    totals = Totals(
        page_views=int(views or 0),
        events=int(events or 0),
        sessions=sessions,
        visitors=visitors_row[3],
        sessions_with_page_view=int(viewed or 0),
        bounced_sessions=int(bounced or 0),
    )
    # UNION ALL does not promise to keep each branch's order, so the few rows are re-sorted.
    ranked = {
        dimension: sorted(
            (RankedValue(value=label, count=count) for label, _w, _h, count, *_rest in found),
            key=lambda row: (-row.count, row.value),
        )
        for dimension, found in by_dimension.items()
        if dimension in ("referrer", "language")
    }
    screen_sizes = sorted(
        (
            ScreenSize(width=width, height=height, sessions=count)
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


def traffic_series(*, project_id: uuid.UUID, time_range: TimeRange, interval: Interval) -> list[Bucket]:
    """Page views and active sessions per UTC hour or day; empty buckets are included."""
    rows = (
        events_in_range(project_id=project_id, time_range=time_range)
        .annotate(bucket=Trunc("occurred_at", str(interval), tzinfo=UTC))
        .values("bucket")
        .annotate(
            page_views=Count("id", filter=Q(type=PAGE_VIEW)),
            sessions=Count("session_id", distinct=True),
        )
        .order_by()
    )
    found = {row["bucket"]: row for row in rows}
    return [
        Bucket(
            start=start,
            page_views=found.get(start, {}).get("page_views", 0),
            sessions=found.get(start, {}).get("sessions", 0),
        )
        for start in bucket_starts(time_range, interval)
    ]


def _top(rows: QuerySet, field: str, *, limit: int) -> list[RankedValue]:
    ranked = rows.values(field).annotate(n=Count("pk")).order_by("-n", field)[:limit]
    return [RankedValue(value=row[field], count=row["n"]) for row in ranked]


def top_paths(*, project_id: uuid.UUID, time_range: TimeRange, limit: int = TOP_N) -> list[RankedValue]:
    views = events_in_range(project_id=project_id, time_range=time_range).filter(type=PAGE_VIEW)
    return _top(views, "path", limit=limit)


def top_event_types(*, project_id: uuid.UUID, time_range: TimeRange, limit: int = TOP_N) -> list[RankedValue]:
    return _top(events_in_range(project_id=project_id, time_range=time_range), "type", limit=limit)


def traffic_stats(
    *, project_id: uuid.UUID, time_range: TimeRange, interval: Interval, limit: int = TOP_N
) -> TrafficStats:
    """Everything the dashboard and GET /v1/projects/<id>/stats show, for one range."""
    scope = {"project_id": project_id, "time_range": time_range}
    sessions = session_rollup(**scope, limit=limit)
    return TrafficStats(
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
