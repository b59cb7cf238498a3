"""Reads over the raw event tables: a project's traffic numbers for a time range.

Every number is computed by the database from the events whose `occurred_at` falls in the
range [start, end) (UTC), through the (project, occurred_at) index; Python only shapes the
aggregated rows. The definitions, which the README repeats:

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

from django.db.models import Count, F, Q, QuerySet, Sum
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


def _sessions_in_range(*, project_id: uuid.UUID, time_range: TimeRange) -> QuerySet[Session]:
    active_ids = events_in_range(project_id=project_id, time_range=time_range).values("session_id")
    return Session.objects.filter(project_id=project_id, pk__in=active_ids)


def traffic_totals(*, project_id: uuid.UUID, time_range: TimeRange) -> Totals:
    # One pass over the range's events, grouped by session, gives every count but visitors.
    per_session = (
        events_in_range(project_id=project_id, time_range=time_range)
        .values("session_id")
        .annotate(event_count=Count("id"), view_count=Count("id", filter=Q(type=PAGE_VIEW)))
        .order_by()
    )
    counts = per_session.aggregate(
        sessions=Count("session_id"),
        events=Sum("event_count", default=0),
        page_views=Sum("view_count", default=0),
        sessions_with_page_view=Count("session_id", filter=Q(view_count__gte=1)),
        bounced_sessions=Count("session_id", filter=Q(view_count=1)),
    )
    visitors = _sessions_in_range(project_id=project_id, time_range=time_range).aggregate(
        visitors=Count("anon_id", distinct=True)
    )["visitors"]
    return Totals(visitors=visitors, **counts)


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


def top_referrers(*, project_id: uuid.UUID, time_range: TimeRange, limit: int = TOP_N) -> list[RankedValue]:
    return _top(_sessions_in_range(project_id=project_id, time_range=time_range), "referrer", limit=limit)


def top_languages(*, project_id: uuid.UUID, time_range: TimeRange, limit: int = TOP_N) -> list[RankedValue]:
    return _top(_sessions_in_range(project_id=project_id, time_range=time_range), "language", limit=limit)


def top_screen_sizes(*, project_id: uuid.UUID, time_range: TimeRange, limit: int = TOP_N) -> list[ScreenSize]:
    ranked = (
        _sessions_in_range(project_id=project_id, time_range=time_range)
        .values("screen_width", "screen_height")
        .annotate(n=Count("pk"))
        .order_by("-n", F("screen_width").asc(nulls_last=True), F("screen_height").asc(nulls_last=True))[
            :limit
        ]
    )
    return [
        ScreenSize(width=row["screen_width"], height=row["screen_height"], sessions=row["n"])
        for row in ranked
    ]


def traffic_stats(
    *, project_id: uuid.UUID, time_range: TimeRange, interval: Interval, limit: int = TOP_N
) -> TrafficStats:
    """Everything the dashboard and GET /v1/projects/<id>/stats show, for one range."""
    scope = {"project_id": project_id, "time_range": time_range}
    return TrafficStats(
        time_range=time_range,
        interval=interval,
        totals=traffic_totals(**scope),
        series=traffic_series(**scope, interval=interval),
        top_paths=top_paths(**scope, limit=limit),
        top_referrers=top_referrers(**scope, limit=limit),
        top_event_types=top_event_types(**scope, limit=limit),
        languages=top_languages(**scope, limit=limit),
        screen_sizes=top_screen_sizes(**scope, limit=limit),
    )
