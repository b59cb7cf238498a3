"""Movement heatmaps and scroll depth for one page, binned by the database.

Screens differ, so positions are normalised to a reference viewport REFERENCE_WIDTH units
wide: a sample at (x, y) page pixels on a viewport vw pixels wide lands at
(x * 1000 / vw, y * 1000 / vw). Both axes use the same factor, so shapes keep their
proportions, and 1000 units down the page is one viewport width. Bins are CELL units square
(COLUMNS across); samples left of or beyond the viewport's width, above the page, deeper
than MAX_DEPTH or without a known viewport width are left out.

Scroll depth of a session on the page is its deepest `scroll` sample's y + vh (the bottom
edge of the viewport), in the same reference units.

Sealed UTC days (ingest.services.seal_day) are read from their binned counts, the rest of the
range from raw samples, in one snapshot; the binning is written once, in ingest/statements.py.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from django.db.backends.utils import CursorWrapper

from analytics.errors import invalid_field
from ingest.statements import (
    CELL,
    CELL_COLUMN,
    CELL_ROW,
    COLUMNS,
    IN_GRID,
    MAX_DEPTH,
    REFERENCE_WIDTH,
    SAMPLE_COUNTED,
    SAMPLES,
    SCROLL_DEPTH,
    SCROLL_REACHED,
    SCROLL_SAMPLE,
    SCROLL_STEP,
    SCROLL_STEPS,
    SEALED_CELLS,
    SEALED_SCROLL_SESSIONS,
    SEALED_SCROLLS,
)
from insights.selectors import aggregate_cursor, around_days, sealed_days_within, within
from insights.time_ranges import TimeRange

# The grid's constants are the ingest statements'; the pages and the API name them from here.
__all__ = [
    "CELL",
    "COLUMNS",
    "MAX_DEPTH",
    "MAX_PATH_LENGTH",
    "REFERENCE_WIDTH",
    "SCROLL_STEP",
    "Bin",
    "Heatmap",
    "HeatmapKind",
    "ScrollDepth",
    "ScrollStep",
    "movement_heatmap",
    "parse_kind",
    "parse_path",
    "scroll_depth",
]

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


@dataclass(frozen=True)
class _Parts:
    """Where a page's samples over a range are read from: the sealed days' binned counts, and
    raw samples in `raw` (a condition on occurred_at, its parameters in `raw_params`)."""

    sealed: list[date]
    raw: str
    raw_params: list


def _parts(cursor: CursorWrapper, *, project_id: uuid.UUID, time_range: TimeRange) -> _Parts:
    sealed = sealed_days_within(cursor, project_id=project_id, start=time_range.start, end=time_range.end)
    raw, raw_params = within("occurred_at", around_days(time_range.start, time_range.end, sealed))
    return _Parts(sealed=sealed, raw=raw, raw_params=raw_params)


def _page(project_id: uuid.UUID, path: str) -> list:
    """The parameters of PAGE: the (project, md5(path)) that the page indexes hold, and the path
    itself, as two paths can share a hash."""
    return [project_id, hashlib.md5(path.encode(), usedforsecurity=False).hexdigest(), path]


PAGE = "project_id = %s AND md5(path) = %s AND path = %s"

# A page's clicks or moves per cell: the sealed days' cells, and the raw samples around them.
HEATMAP_SQL = f"""
SELECT "column", "row", SUM(samples)::bigint FROM (
    SELECT "column", "row", samples FROM {SEALED_CELLS}
    WHERE {PAGE} AND kind = %s AND day = ANY(%s::date[])
    UNION ALL
    SELECT {CELL_COLUMN}, {CELL_ROW}, 1 FROM {SAMPLES}
    WHERE {PAGE} AND kind = %s AND ({{raw}}) AND {SAMPLE_COUNTED} AND {IN_GRID}
) AS cells
GROUP BY "column", "row"
ORDER BY "row", "column"
"""

# A page's sessions per scroll steps reached: counted by the sealed days for the sessions all of
# whose samples lie in one of them; per session for the others, from the sealed days' rows of
# the sessions that cross days and from the raw samples around them.
SCROLL_SQL = f"""
WITH per_session AS (
    SELECT session_id, MAX(depth) AS depth FROM (
        SELECT session_id, depth FROM {SEALED_SCROLL_SESSIONS}
        WHERE {PAGE} AND day = ANY(%s::date[])
        UNION ALL
        SELECT session_id, {SCROLL_DEPTH} FROM {SAMPLES}
        WHERE {PAGE} AND ({{raw}}) AND {SCROLL_SAMPLE}
    ) AS depths
    GROUP BY session_id
)
SELECT {SCROLL_REACHED}, COUNT(*) FROM per_session GROUP BY 1
UNION ALL
SELECT reached, SUM(sessions)::bigint FROM {SEALED_SCROLLS}
WHERE {PAGE} AND day = ANY(%s::date[])
GROUP BY reached
"""


def movement_heatmap(*, project_id: uuid.UUID, path: str, kind: HeatmapKind, time_range: TimeRange) -> Heatmap:
    """Clicks or pointer moves on `path` counted per CELL x CELL bin of the reference viewport."""
    page = _page(project_id, path)
    with aggregate_cursor(settings=()) as cursor:
        parts = _parts(cursor, project_id=project_id, time_range=time_range)
        cursor.execute(
            HEATMAP_SQL.format(raw=parts.raw), [*page, str(kind), parts.sealed, *page, str(kind), *parts.raw_params]
        )
        bins = [Bin(column=column, row=row, count=count) for column, row, count in cursor.fetchall()]
    return Heatmap(project_id=project_id, path=path, kind=kind, time_range=time_range, bins=bins)


def scroll_depth(*, project_id: uuid.UUID, path: str, time_range: TimeRange) -> ScrollDepth:
    """For every SCROLL_STEP of depth, the share of sessions (with a scroll sample on the page)
    whose deepest scroll reached it. Steps stop after the first that nobody reached."""
    page = _page(project_id, path)
    with aggregate_cursor(settings=()) as cursor:
        parts = _parts(cursor, project_id=project_id, time_range=time_range)
        cursor.execute(
            SCROLL_SQL.format(raw=parts.raw), [*page, parts.sealed, *page, *parts.raw_params, *page, parts.sealed]
        )
        sessions_by_reached = Counter()
        for reached, sessions in cursor.fetchall():
            sessions_by_reached[reached] += sessions
    total = sum(sessions_by_reached.values())
    steps: list[ScrollStep] = []
    if not total:
        return ScrollDepth(sessions=0, steps=steps)
    for step in range(1, SCROLL_STEPS + 1):
        reached = sum(sessions for at_least, sessions in sessions_by_reached.items() if at_least >= step)
        steps.append(ScrollStep(depth=step * SCROLL_STEP, sessions=reached, share=reached / total))
        if not reached:
            break
    return ScrollDepth(sessions=total, steps=steps)
