"""Heatmaps drawn as PNG images on the server, with a small encoder (zlib, no imaging library).

Each bin becomes a CELL_PX square; colour goes from blue (few) through green and yellow to
red (the busiest bin), on a square-root scale so that quiet areas stay visible next to a
hot button. A faint line marks every viewport width of depth (1000 reference units).
"""

from __future__ import annotations

import math
import struct
import zlib

from insights.heatmaps import CELL, COLUMNS, REFERENCE_WIDTH, Heatmap

CELL_PX = 8
# At least one viewport width deep, so an empty or shallow map still has a page shape.
MIN_ROWS = REFERENCE_WIDTH // CELL
BACKGROUND = (246, 246, 248)
DEPTH_LINE = (205, 205, 215)
# Colour stops from the least to the most frequent bin.
STOPS = [
    (49, 54, 149),
    (69, 117, 180),
    (116, 173, 209),
    (171, 217, 233),
    (254, 224, 144),
    (253, 174, 97),
    (244, 109, 67),
    (215, 48, 39),
]


def encode_png(width: int, height: int, rgb_rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG from `height` rows of `width` * 3 bytes each."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # Filter type 0 (none) before every row.
    raw = b"".join(b"\x00" + row for row in rgb_rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def heat_colour(fraction: float) -> tuple[int, int, int]:
    """The colour of a bin holding `fraction` (0..1] of the busiest bin's count."""
    position = math.sqrt(min(1.0, max(0.0, fraction))) * (len(STOPS) - 1)
    low = min(int(position), len(STOPS) - 2)
    mix = position - low
    return tuple(round(a + (b - a) * mix) for a, b in zip(STOPS[low], STOPS[low + 1], strict=True))


def render_heatmap_png(heatmap: Heatmap) -> bytes:
    rows = max(heatmap.rows, MIN_ROWS)
    grid: list[list[tuple[int, int, int] | None]] = [[None] * COLUMNS for _ in range(rows)]
    peak = heatmap.max_count
    for cell in heatmap.bins:
        grid[cell.row][cell.column] = heat_colour(cell.count / peak)
    pixel_rows = []
    for row_index, cells in enumerate(grid):
        row = b"".join(bytes(colour or BACKGROUND) * CELL_PX for colour in cells)
        if row_index and row_index % MIN_ROWS == 0:
            line = b"".join(bytes(colour or DEPTH_LINE) * CELL_PX for colour in cells)
            pixel_rows.extend([line] + [row] * (CELL_PX - 1))
        else:
            pixel_rows.extend([row] * CELL_PX)
    return encode_png(COLUMNS * CELL_PX, rows * CELL_PX, pixel_rows)
