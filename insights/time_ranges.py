"""Reporting ranges: what `from`, `to` and `interval` mean, for the API and the admin alike.

Everything is in UTC. A range is half-open, [start, end). A bare date in `from` means that
day's first instant; a bare date in `to` includes that whole day, so `from=2025-03-01&to=2025-03-07`
is seven full days. A datetime is taken as the exact instant (without an offset it is UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from analytics.errors import ApiError, invalid_field
from analytics.http import iso
from ingest.hours import ceil_hour, floor_hour


class Interval(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self is Interval.HOUR else timedelta(days=1)


DEFAULT_DAYS = 7
# Bounds the number of buckets a chart or an answer can hold (744 hours, 366 days).
# The walk over a range's buckets steps past its end by up to a day, which must stay a datetime.
LATEST_END = datetime(9999, 12, 31, tzinfo=UTC)
MAX_RANGE = {Interval.HOUR: timedelta(days=31), Interval.DAY: timedelta(days=366)}


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def previous(self) -> TimeRange:
        """The range of the same length just before this one (the trends' comparison);
        clamped at the first instant a datetime can hold."""
        earliest = datetime.min.replace(tzinfo=UTC)
        start = earliest if self.start - earliest < self.duration else self.start - self.duration
        return TimeRange(start=start, end=self.start)


def _parse_moment(field: str, raw: str, *, end_of_day: bool) -> datetime:
    raw = raw.strip()
    try:
        if len(raw) == len("YYYY-MM-DD"):
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid_field(
            field, f"{raw!r} is not an ISO 8601 date (2025-03-01) or datetime (2025-03-01T12:00:00Z)."
        ) from None


def today_end(now: datetime) -> datetime:
    """The first instant of tomorrow (UTC): ranges that end "today" include all of today."""
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time.min, tzinfo=UTC)


def parse_interval(raw: str | None, *, default: Interval = Interval.DAY) -> Interval:
    if not raw:
        return default
    try:
        return Interval(raw)
    except ValueError:
        raise invalid_field("interval", f"{raw!r} is not one of: hour, day.") from None


def parse_range(
    raw_from: str | None,
    raw_to: str | None,
    *,
    now: datetime,
    interval: Interval | None = None,
) -> TimeRange:
    """The range asked for; by default the last DEFAULT_DAYS days, today included.

    With an interval, the range must fit in MAX_RANGE for it, so a chart stays readable and
    the bucket list bounded.
    """
    end = _parse_moment("to", raw_to, end_of_day=True) if raw_to else today_end(now)
    if end > LATEST_END:
        raise invalid_field("to", "is too late; give a date before 9999-12-31.")
    if raw_from:
        start = _parse_moment("from", raw_from, end_of_day=False)
    elif end > datetime.min.replace(tzinfo=UTC) + timedelta(days=DEFAULT_DAYS):
        start = end - timedelta(days=DEFAULT_DAYS)
    else:
        raise invalid_field("to", "is too early; give a date after 0001-01-08.")
    if start >= end:
        raise ApiError(
            400,
            "invalid_range",
            "`from` must be before `to` (a date in `to` includes that whole day).",
            details={"from": iso(start), "to": iso(end)},
        )
    if interval is not None and end - start > MAX_RANGE[interval]:
        limit_days = MAX_RANGE[interval].days
        raise ApiError(
            400,
            "range_too_large",
            f"A range with interval={interval} may span at most {limit_days} days; "
            "shorten it or use a coarser interval.",
            details={"interval": str(interval), "maxDays": limit_days},
        )
    return TimeRange(start=start, end=end)


def whole_hours(time_range: TimeRange) -> TimeRange | None:
    """The whole UTC hours inside the range, if there is one."""
    first, last = ceil_hour(time_range.start), floor_hour(time_range.end)
    return TimeRange(start=first, end=last) if first < last else None


def outside_whole_hours(time_range: TimeRange) -> list[TimeRange]:
    """The parts of the range that whole_hours leaves out: up to two partial hours at its
    edges, or the whole range when it holds no whole hour."""
    hours = whole_hours(time_range)
    if hours is None:
        return [time_range]
    edges = [TimeRange(start=time_range.start, end=hours.start), TimeRange(start=hours.end, end=time_range.end)]
    return [edge for edge in edges if edge.start < edge.end]


def bucket_starts(time_range: TimeRange, interval: Interval) -> list[datetime]:
    """The start of every hour or day (UTC) that the range touches, in order."""
    if interval is Interval.HOUR:
        first = time_range.start.replace(minute=0, second=0, microsecond=0)
    else:
        first = datetime.combine(time_range.start.date(), time.min, tzinfo=UTC)
    starts = []
    moment = first
    while moment < time_range.end:
        starts.append(moment)
        moment += interval.step
    return starts
