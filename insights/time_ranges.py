"""Reporting ranges: what `from`, `to` and `interval` mean, for the API and the admin alike.

A range is half-open, [start, end), between UTC instants, read in its project's time zone: a
bare date in `from` means the first instant of that local day; a bare date in `to` includes
that whole local day, so `from=2025-03-01&to=2025-03-07` is seven full local days (one of them
23 or 25 hours long when the clocks change in between). A datetime is taken as the exact
instant; without an offset it is local time. Days are local days, hours are UTC hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from analytics.errors import ApiError, invalid_field
from analytics.http import iso
from ingest.hours import ceil_hour, floor_hour
from projects.models import DEFAULT_TIME_ZONE


class Interval(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self is Interval.HOUR else timedelta(days=1)


DEFAULT_DAYS = 7
# Bounds the number of buckets a chart or an answer can hold (744 hours, or 745 when the
# clocks go back; 366 days), measured on the local clock.
LATEST_END = datetime(9999, 12, 31, tzinfo=UTC)
MAX_RANGE = {Interval.HOUR: timedelta(days=31), Interval.DAY: timedelta(days=366)}


EARLIEST = datetime.min.replace(tzinfo=UTC)


def earliest(time_zone: str) -> datetime:
    """The first instant a range may start at: its local time and its local day's first
    instant must be datetimes too, which a day's margin ensures in any zone."""
    return EARLIEST if time_zone == DEFAULT_TIME_ZONE else EARLIEST + timedelta(days=1)


def local_time(moment: datetime, time_zone: str) -> datetime:
    """The wall-clock time (naive) of an instant in the zone."""
    return moment.astimezone(ZoneInfo(time_zone)).replace(tzinfo=None)


def instant(wall: datetime, time_zone: str) -> datetime:
    """The UTC instant of a wall-clock time in the zone. A time the clocks skip is read with
    the offset before the change, so a skipped midnight gives the day's first instant; a time
    they repeat is its first occurrence."""
    return wall.replace(tzinfo=ZoneInfo(time_zone), fold=0).astimezone(UTC)


def day_start(day: date, time_zone: str) -> datetime:
    """The first instant (UTC) of a local day."""
    return instant(datetime.combine(day, time.min), time_zone)


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    # The IANA name of the zone whose days the range's day buckets are.
    time_zone: str = DEFAULT_TIME_ZONE

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def previous(self) -> TimeRange:
        """The range just before this one, as long on the local clock (the trends'
        comparison): seven local days before seven local days, whatever hours the clocks
        gained or lost; clamped at the first instant a datetime can hold."""
        try:
            first, last = local_time(self.start, self.time_zone), local_time(self.end, self.time_zone)
            start = instant(first - (last - first), self.time_zone)
        except OverflowError:
            start = EARLIEST
        return TimeRange(start=max(start, earliest(self.time_zone)), end=self.start, time_zone=self.time_zone)


def _parse_moment(field: str, raw: str, *, end_of_day: bool, time_zone: str) -> datetime:
    raw = raw.strip()
    try:
        if len(raw) == len("YYYY-MM-DD"):
            day = date.fromisoformat(raw)
            return day_start(day + timedelta(days=1) if end_of_day else day, time_zone)
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            return instant(moment, time_zone)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid_field(
            field, f"{raw!r} is not an ISO 8601 date (2025-03-01) or datetime (2025-03-01T12:00:00Z)."
        ) from None


def local_date(moment: datetime, time_zone: str = DEFAULT_TIME_ZONE) -> date:
    """The date of the instant in the zone: with `now`, the zone's today."""
    return local_time(moment, time_zone).date()


def today_end(now: datetime, time_zone: str = DEFAULT_TIME_ZONE) -> datetime:
    """The first instant of tomorrow in the zone: ranges that end "today" include all of today."""
    return day_start(local_date(now, time_zone) + timedelta(days=1), time_zone)


def last_days(*, days: int, now: datetime, time_zone: str) -> TimeRange:
    """The last `days` whole days of the zone, today included."""
    tomorrow = local_date(now, time_zone) + timedelta(days=1)
    return TimeRange(
        start=day_start(tomorrow - timedelta(days=days), time_zone),
        end=day_start(tomorrow, time_zone),
        time_zone=time_zone,
    )


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
    time_zone: str = DEFAULT_TIME_ZONE,
) -> TimeRange:
    """The range asked for, read in the project's time zone; by default the last
    DEFAULT_DAYS local days, today included.

    With an interval, the range must fit in MAX_RANGE for it, so a chart stays readable and
    the bucket list bounded.
    """
    end = _parse_moment("to", raw_to, end_of_day=True, time_zone=time_zone) if raw_to else today_end(now, time_zone)
    if end > LATEST_END:
        raise invalid_field("to", "is too late; give a date before 9999-12-31.")
    if raw_from:
        start = _parse_moment("from", raw_from, end_of_day=False, time_zone=time_zone)
        if start < earliest(time_zone):
            raise invalid_field("from", "is too early; give a date after 0001-01-02.")
    else:
        try:
            # DEFAULT_DAYS days back on the local clock: a whole local day stays one.
            start = instant(local_time(end, time_zone) - timedelta(days=DEFAULT_DAYS), time_zone)
        except OverflowError:
            start = EARLIEST
        if start <= earliest(time_zone):
            raise invalid_field("to", "is too early; give a date after 0001-01-08.")
    if start >= end:
        raise ApiError(
            400,
            "invalid_range",
            "`from` must be before `to` (a date in `to` includes that whole day).",
            details={"from": iso(start), "to": iso(end)},
        )
    # Measured on the local clock: 366 local days are 366 days, whatever the clocks did.
    if interval is not None and local_time(end, time_zone) - local_time(start, time_zone) > MAX_RANGE[interval]:
        limit_days = MAX_RANGE[interval].days
        raise ApiError(
            400,
            "range_too_large",
            f"A range with interval={interval} may span at most {limit_days} days; "
            "shorten it or use a coarser interval.",
            details={"interval": str(interval), "maxDays": limit_days},
        )
    return TimeRange(start=start, end=end, time_zone=time_zone)


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
    """The start of every UTC hour, or local day of the range's zone, that the range touches,
    in order (as UTC instants)."""
    if interval is Interval.HOUR:
        starts, moment = [], floor_hour(time_range.start)
        while moment < time_range.end:
            starts.append(moment)
            moment += interval.step
        return starts
    starts, day = [], local_date(time_range.start, time_range.time_zone)
    while (moment := day_start(day, time_range.time_zone)) < time_range.end:
        starts.append(moment)
        if day == date.max:  # the range ends before the next day; it cannot be written
            break
        day += interval.step
    return starts


def bucket_of(moment: datetime, interval: Interval, time_zone: str) -> datetime:
    """The start of the UTC hour or local day that holds the instant."""
    return floor_hour(moment) if interval is Interval.HOUR else day_start(local_date(moment, time_zone), time_zone)


def hours_across_days(time_range: TimeRange) -> list[datetime]:
    """The whole UTC hours of the range in which a local day begins (in zones 30 or 45
    minutes off UTC): a rollup row of such an hour cannot be split between its two days."""
    hours = whole_hours(time_range)
    if hours is None:
        return []
    starts = bucket_starts(time_range, Interval.DAY)[1:]
    return [floor_hour(moment) for moment in starts if hours.start <= floor_hour(moment) < moment < hours.end]
