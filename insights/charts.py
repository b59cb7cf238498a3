"""Geometry of the dashboard's time-series chart; the template draws it as inline SVG.

Page views are bars and sessions a line, on one shared y axis.
"""

from __future__ import annotations

from dataclasses import dataclass

from insights.selectors import Bucket
from insights.time_ranges import Interval

WIDTH = 960
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 36
X_LABELS = 8
Y_STEPS = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class SeriesChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: int
    bars: list[Bar]
    session_points: str
    y_ticks: list[Tick]
    x_ticks: list[Tick]


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least value (and at least 1)."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def _label(bucket: Bucket, interval: Interval) -> str:
    return bucket.start.strftime("%d %b %H:00" if interval is Interval.HOUR else "%a %d %b")


def series_chart(series: list[Bucket], interval: Interval) -> SeriesChart:
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_height
    peak = max((max(b.page_views, b.sessions) for b in series), default=0)
    # Four whole-numbered steps up the y axis.
    step = _nice_ceiling(-(-peak // Y_STEPS))
    top_value = step * Y_STEPS
    slot = plot_width / max(1, len(series))

    def y_of(value: int) -> float:
        return round(bottom - value / top_value * plot_height, 1)

    bars = []
    points = []
    for index, bucket in enumerate(series):
        x = LEFT + index * slot
        bars.append(
            Bar(
                x=round(x + slot * 0.1, 1),
                y=y_of(bucket.page_views),
                width=round(slot * 0.8, 1),
                height=round(bottom - y_of(bucket.page_views), 1),
                title=f"{_label(bucket, interval)} UTC: {bucket.page_views} page views, {bucket.sessions} sessions",
            )
        )
        points.append(f"{round(x + slot / 2, 1)},{y_of(bucket.sessions)}")
    y_ticks = [Tick(position=y_of(step * n), label=f"{step * n:,}") for n in range(Y_STEPS + 1)]
    every = max(1, -(-len(series) // X_LABELS))
    x_ticks = [
        Tick(position=round(LEFT + (index + 0.5) * slot, 1), label=_label(bucket, interval))
        for index, bucket in enumerate(series)
        if index % every == 0
    ]
    return SeriesChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_bottom=bottom,
        bars=bars,
        session_points=" ".join(points),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
    )
