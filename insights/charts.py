"""Geometry of the dashboard's time-series chart; the template draws it as inline SVG.

Page views are bars and sessions a line, on one shared y axis; with a comparison, the page
views of the previous period are a lighter line, its buckets aligned with this period's by
their place (the first with the first).
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics.charts import Slots, Tick, points, value_axis
from insights.selectors import Bucket
from insights.time_ranges import Interval, local_time

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
class SeriesChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: int
    bars: list[Bar]
    session_points: str
    previous_points: str
    y_ticks: list[Tick]
    x_ticks: list[Tick]


def _label(bucket: Bucket, interval: Interval, time_zone: str) -> str:
    """The bucket's start on the project's clock: an hour of a zone 30 minutes off UTC
    starts at :30."""
    return local_time(bucket.start, time_zone).strftime("%d %b %H:%M" if interval is Interval.HOUR else "%a %d %b")


def series_chart(
    series: list[Bucket], interval: Interval, *, time_zone: str, previous: list[Bucket] | None = None
) -> SeriesChart:
    bottom = HEIGHT - BOTTOM
    # A previous bucket beyond this period's last one has no place on the chart.
    earlier = (previous or [])[: len(series)]
    peak = max((max(b.page_views, b.sessions) for b in [*series, *earlier]), default=0)
    # Four whole-numbered steps up the y axis.
    axis = value_axis(low=0, high=peak, steps=Y_STEPS, top=TOP, bottom=bottom, min_step=1)
    slots = Slots(left=LEFT, width=WIDTH - LEFT - RIGHT, count=len(series))
    bars = [
        Bar(
            x=round(slots.start(index) + slots.slot * 0.1, 1),
            y=axis.y(bucket.page_views),
            width=round(slots.slot * 0.8, 1),
            height=round(bottom - axis.y(bucket.page_views), 1),
            title=f"{_label(bucket, interval, time_zone)} {time_zone}: {bucket.page_views} page views, "
            f"{bucket.sessions} sessions"
            + (
                f" (previous period, {_label(earlier[index], interval, time_zone)}: "
                f"{earlier[index].page_views} page views)"
                if index < len(earlier)
                else ""
            ),
        )
        for index, bucket in enumerate(series)
    ]
    return SeriesChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_bottom=bottom,
        bars=bars,
        session_points=points((slots.centre(index), axis.y(bucket.sessions)) for index, bucket in enumerate(series)),
        previous_points=points(
            (slots.centre(index), axis.y(bucket.page_views)) for index, bucket in enumerate(earlier)
        ),
        y_ticks=axis.ticks(lambda value: f"{round(value):,}"),
        x_ticks=[
            Tick(position=slots.centre(index), label=_label(series[index], interval, time_zone))
            for index in slots.labelled(X_LABELS)
        ],
    )
