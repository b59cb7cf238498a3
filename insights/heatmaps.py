"""Movement heatmaps and scroll depth for one page, binned by the database.

Screens differ, so positions are normalised to a reference viewport REFERENCE_WIDTH units
wide: a sample at (x, y) page pixels on a viewport vw pixels wide lands at
(x * 1000 / vw, y * 1000 / vw). Both axes use the same factor, so shapes keep their
proportions, and 1000 units down the page is one viewport width. Bins are CELL units square
(COLUMNS across); samples left of or beyond the viewport's width, above the page, deeper
than MAX_DEPTH or without a known viewport width are left out.

Scroll depth of a session on the page is its deepest `scroll` sample's y + vh (the bottom
edge of the viewport), in the same reference units.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import BigIntegerField, Count, ExpressionWrapper, F, Max, Q, QuerySet
from django.db.models.functions import MD5, Cast

from analytics.errors import invalid_field
from analytics.replica import read_alias
from ingest.models import MovementSample
from insights.time_ranges import TimeRange

REFERENCE_WIDTH = 1000
CELL = 20
COLUMNS = REFERENCE_WIDTH // CELL
MAX_DEPTH = 10 * REFERENCE_WIDTH
ROWS = MAX_DEPTH // CELL
SCROLL_STEP = 250
MAX_PATH_LENGTH = 2048


class HeatmapKind(StrEnum):
    CLICK = "click"
    MOVE = "move"


def parse_kind(raw: str | None) -> HeatmapKind:
    try:
        return HeatmapKind(raw or HeatmapKind.CLICK)
    except ValueError:
        raise invalid_field("kind", f"{raw!r} is not one of: click, move.") from None


def parse_path(raw: str | None) -> str:
    if not raw:
        raise invalid_field("path", "is required: the page path, e.g. /pricing.")
    if len(raw) > MAX_PATH_LENGTH:
        raise invalid_field("path", f"is longer than {MAX_PATH_LENGTH} characters.")
    # No stored path holds one (ingest refuses them), and Postgres text cannot.
    if "\x00" in raw:
        raise invalid_field("path", "must not contain NUL characters.")
    return raw


@dataclass(frozen=True)
class Bin:
    column: int
    row: int
    count: int


@dataclass(frozen=True)
class Heatmap:
    project_id: uuid.UUID
    path: str
    kind: HeatmapKind
    time_range: TimeRange
    bins: list[Bin]

    @property
    def samples(self) -> int:
        return sum(cell.count for cell in self.bins)

    @property
    def max_count(self) -> int:
        return max((cell.count for cell in self.bins), default=0)

    @property
    def rows(self) -> int:
        """Rows down to the deepest one with a sample."""
        return max((cell.row for cell in self.bins), default=-1) + 1


@dataclass(frozen=True)
class ScrollStep:
    depth: int
    sessions: int
    share: float


@dataclass(frozen=True)
class ScrollDepth:
    sessions: int
    steps: list[ScrollStep]


def _samples(*, project_id: uuid.UUID, path: str, kind: str, time_range: TimeRange) -> QuerySet[MovementSample]:
    # The hash of the path is what the (project, md5(path), kind, occurred_at) index holds;
    # the path itself is compared too, as two paths can share a hash.
    return (
        MovementSample.objects.using(read_alias())
        .alias(path_hash=MD5("path"))
        .filter(
            project_id=project_id,
            path_hash=hashlib.md5(path.encode(), usedforsecurity=False).hexdigest(),
            kind=kind,
            occurred_at__gte=time_range.start,
            occurred_at__lt=time_range.end,
            path=path,
            viewport_width__gt=0,
            y__gte=0,
        )
    )


def _big(field: str) -> Cast:
    # 64 bits, so that absurd coordinates cannot overflow the arithmetic below.
    return Cast(field, BigIntegerField())


def _scaled(pixels, units_per_viewport_width: int) -> ExpressionWrapper:
    """Page pixels in units of 1/n of the sample's viewport width (integer division in SQL)."""
    return ExpressionWrapper(pixels * units_per_viewport_width / F("viewport_width"), output_field=BigIntegerField())


def movement_heatmap(*, project_id: uuid.UUID, path: str, kind: HeatmapKind, time_range: TimeRange) -> Heatmap:
    """Clicks or pointer moves on `path` counted per CELL x CELL bin of the reference viewport."""
    rows = (
        _samples(project_id=project_id, path=path, kind=kind, time_range=time_range)
        .filter(x__gte=0, x__lt=F("viewport_width"))
        .annotate(column=_scaled(_big("x"), COLUMNS), row=_scaled(_big("y"), COLUMNS))
        .filter(row__lt=ROWS)
        .values("column", "row")
        .annotate(n=Count("pk"))
        .order_by("row", "column")
    )
    bins = [Bin(column=row["column"], row=row["row"], count=row["n"]) for row in rows]
    return Heatmap(project_id=project_id, path=path, kind=kind, time_range=time_range, bins=bins)


def scroll_depth(*, project_id: uuid.UUID, path: str, time_range: TimeRange) -> ScrollDepth:
    """For every SCROLL_STEP of depth, the share of sessions (with a scroll sample on the page)
    whose deepest scroll reached it. Steps stop after the first that nobody reached."""
    per_session = (
        _samples(project_id=project_id, path=path, kind=MovementSample.Kind.SCROLL, time_range=time_range)
        .filter(viewport_height__isnull=False)
        .values("session_id")
        .annotate(depth=Max(_scaled(_big("y") + _big("viewport_height"), REFERENCE_WIDTH)))
        .order_by()
    )
    thresholds = range(SCROLL_STEP, MAX_DEPTH + 1, SCROLL_STEP)
    counts = per_session.aggregate(
        sessions=Count("session_id"),
        **{f"reached_{depth}": Count("session_id", filter=Q(depth__gte=depth)) for depth in thresholds},
    )
    total = counts["sessions"]
    steps: list[ScrollStep] = []
    if not total:
        return ScrollDepth(sessions=0, steps=steps)
    for depth in thresholds:
        reached = counts[f"reached_{depth}"]
        steps.append(ScrollStep(depth=depth, sessions=reached, share=reached / total))
        if not reached:
            break
    return ScrollDepth(sessions=total, steps=steps)
