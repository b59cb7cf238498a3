"""The traffic numbers counted in plain Python from the raw Event and Session rows, to check
insights.selectors against: no rollups, no SQL aggregates, the definitions of docs/insights.md
applied row by row."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ingest.models import SESSION_DIMENSIONS, Event, Session
from insights.selectors import (
    NO_FILTERS,
    TOP_N,
    Bucket,
    Filters,
    RankedValue,
    ScreenSize,
    Totals,
    TrafficStats,
    VisitDuration,
    visit_duration,
)
from insights.time_ranges import Interval, TimeRange
from projects.models import FilteredBotHour

PAGE_VIEW = "page_view"


def _midnight(year: int, month: int, day: int, zone: ZoneInfo) -> datetime:
    """The first instant of a local day (a midnight the clocks skip: the moment they jump)."""
    return datetime(year, month, day, tzinfo=zone).astimezone(UTC)


def _bucket_of(moment: datetime, interval: Interval, zone: ZoneInfo) -> datetime:
    """The UTC hour, or the day of the zone, that holds the instant."""
    if interval == Interval.HOUR:
        return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    local = moment.astimezone(zone)
    return _midnight(local.year, local.month, local.day, zone)


def _buckets(time_range: TimeRange, interval: Interval) -> list[datetime]:
    zone = ZoneInfo(time_range.time_zone)
    starts, start = [], _bucket_of(time_range.start, interval, zone)
    while start < time_range.end:
        starts.append(start)
        if interval == Interval.HOUR:
            start += timedelta(hours=1)
        else:
            # The next date on the local calendar, 36 hours on: clear of any change of the clocks.
            following = (start.astimezone(zone) + timedelta(hours=36)).date()
            start = _midnight(following.year, following.month, following.day, zone)
    return starts


def _ranked(counts: Counter, limit: int) -> list[RankedValue]:
    """Most frequent first; ties by value."""
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    return [RankedValue(value=value, count=count) for value, count in rows[:limit]]


def _median(values: list[int]) -> float | None:
    """The middle value, or halfway between the two middle ones."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    low, high = ordered[middle - 1], ordered[middle]
    return low + (high - low) / 2


def _durations(events: list[dict]) -> VisitDuration:
    """Per session, last event - first event in microseconds; one event is 0."""
    times: defaultdict[int, list[datetime]] = defaultdict(list)
    for event in events:
        times[event["session_id"]].append(event["occurred_at"])
    micros = [(max(moments) - min(moments)) // timedelta(microseconds=1) for moments in times.values()]
    return visit_duration(
        sessions=len(micros),
        single_event_sessions=sum(1 for moments in times.values() if len(moments) == 1),
        median_us=_median(micros),
        total_us=sum(micros),
    )


def _entries_and_exits(events: list[dict], limit: int) -> tuple[list[RankedValue], list[RankedValue]]:
    """Sessions per path of their first and of their last page view; at the same instant, the
    path that sorts first is the entry and the one that sorts last the exit."""
    views: defaultdict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for event in events:
        if event["type"] == PAGE_VIEW:
            views[event["session_id"]].append((event["occurred_at"], event["path"]))
    entries = Counter(min(seen)[1] for seen in views.values())
    exits = Counter(max(seen)[1] for seen in views.values())
    return _ranked(entries, limit), _ranked(exits, limit)


def traffic_stats(
    *,
    project_id: uuid.UUID,
    time_range: TimeRange,
    interval: Interval,
    filters: Filters = NO_FILTERS,
    limit: int = TOP_N,
    with_previous: bool = True,
) -> TrafficStats:
    in_range = list(
        Event.objects.filter(
            project_id=project_id, occurred_at__gte=time_range.start, occurred_at__lt=time_range.end
        ).values("session_id", "type", "path", "occurred_at")
    )
    sessions = {
        row["id"]: row
        for row in Session.objects.filter(id__in={event["session_id"] for event in in_range}).values(
            "id", "anon_id", "referrer", "language", "screen_width", "screen_height", *SESSION_DIMENSIONS
        )
        if all(row[column] == value for column, value in filters.items())
    }
    events = [event for event in in_range if event["session_id"] in sessions]
    previous = (
        traffic_stats(
            project_id=project_id,
            time_range=time_range.previous,
            interval=interval,
            filters=filters,
            limit=limit,
            with_previous=False,
        )
        if with_previous
        else None
    )

    views_per_session: Counter = Counter()
    events_per_session: Counter = Counter()
    views_per_bucket: Counter = Counter()
    sessions_per_bucket: defaultdict[datetime, set[int]] = defaultdict(set)
    for event in events:
        viewed = event["type"] == PAGE_VIEW
        events_per_session[event["session_id"]] += 1
        views_per_session[event["session_id"]] += viewed
        bucket = _bucket_of(event["occurred_at"], interval, ZoneInfo(time_range.time_zone))
        views_per_bucket[bucket] += viewed
        sessions_per_bucket[bucket].add(event["session_id"])

    active = [sessions[session_id] for session_id in events_per_session]
    totals = Totals(
        page_views=sum(views_per_session.values()),
        events=len(events),
        sessions=len(active),
        visitors=len({session["anon_id"] for session in active}),
        sessions_with_page_view=sum(1 for n in views_per_session.values() if n >= 1),
        bounced_sessions=sum(1 for n in views_per_session.values() if n == 1),
    )
    entry_pages, exit_pages = _entries_and_exits(events, limit)
    screens = Counter((session["screen_width"], session["screen_height"]) for session in active)
    screen_order = sorted(
        screens.items(),
        key=lambda item: (-item[1], item[0][0] is None, item[0][0] or 0, item[0][1] is None, item[0][1] or 0),
    )
    return TrafficStats(
        project_id=project_id,
        time_range=time_range,
        interval=interval,
        totals=totals,
        series=[
            Bucket(start=start, page_views=views_per_bucket[start], sessions=len(sessions_per_bucket[start]))
            for start in _buckets(time_range, interval)
        ],
        top_paths=_ranked(Counter(event["path"] for event in events if event["type"] == PAGE_VIEW), limit),
        top_referrers=_ranked(Counter(session["referrer"] for session in active), limit),
        top_event_types=_ranked(Counter(event["type"] for event in events), limit),
        languages=_ranked(Counter(session["language"] for session in active), limit),
        screen_sizes=[
            ScreenSize(width=width, height=height, sessions=count) for (width, height), count in screen_order[:limit]
        ],
        filtered_bots=sum(
            row.requests
            for row in FilteredBotHour.objects.filter(project_id=project_id)
            if time_range.start <= row.hour < time_range.end
        ),
        filters=dict(filters),
        dimensions={
            column: _ranked(
                Counter(
                    session[column] for session in active if column != "utm_campaign" or session[column] is not None
                ),
                limit,
            )
            for column in SESSION_DIMENSIONS
        },
        entry_pages=entry_pages,
        exit_pages=exit_pages,
        visit_duration=_durations(events),
        previous_totals=previous.totals if previous else None,
        previous_visit_duration=previous.visit_duration if previous else None,
    )
