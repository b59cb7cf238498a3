"""Geometry shared by the admin's charts, which templates draw as inline SVG.

An app computes its series and positions with these pieces (round value axes, one slot per
point along x, point lists for polylines) and its template draws them; no chart library
and no script, which the Content-Security-Policy would have to allow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


def nice_step(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least value (value > 0)."""
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # log10 rounded up by a hair: value is a power of ten


@dataclass(frozen=True)
class ValueAxis:
    """A vertical axis from `low` (at y = bottom) up in `steps` round steps (to y = top)."""

    low: float
    step: float
    steps: int
    top: float
    bottom: float

    @property
    def high(self) -> float:
        return self.low + self.step * self.steps

    def y(self, value: float) -> float:
        return round(self.bottom - (value - self.low) / (self.high - self.low) * (self.bottom - self.top), 1)

    def ticks(self, label: Callable[[float], str]) -> list[Tick]:
        # Whole multiples of the step, so that the tick at 0 is 0 and not -1e-17 ("-0.0").
        first = round(self.low / self.step)
        values = ((first + index) * self.step for index in range(self.steps + 1))
        return [Tick(position=self.y(value), label=label(value)) for value in values]


def value_axis(*, low: float, high: float, steps: int, top: float, bottom: float, min_step: float) -> ValueAxis:
    """About `steps` equal round steps from a multiple of the step at or below low, up to high.

    One more step is added when starting below low leaves high out. min_step keeps a flat
    series (high == low) from asking for steps of nothing.
    """
    step = nice_step(max(min_step, (high - low) / steps))
    start = math.floor(low / step) * step
    return ValueAxis(low=start, step=step, steps=max(steps, math.ceil((high - start) / step)), top=top, bottom=bottom)


@dataclass(frozen=True)
class Slots:
    """`count` equal slots side by side from x = left, one per point of a series."""

    left: float
    width: float
    count: int

    @property
    def slot(self) -> float:
        return self.width / max(1, self.count)

    def start(self, index: int) -> float:
        return self.left + index * self.slot

    def centre(self, index: int) -> float:
        return round(self.start(index) + self.slot / 2, 1)

    def labelled(self, max_labels: int) -> range:
        """The indices to label so that at most max_labels labels fit, evenly spaced."""
        return range(0, self.count, max(1, -(-self.count // max_labels)))


def points(pairs: Iterable[tuple[float, float]]) -> str:
    """SVG polyline / polygon points: "x,y x,y ..."."""
    return " ".join(f"{x},{y}" for x, y in pairs)
