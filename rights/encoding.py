"""Rows as NDJSON or CSV bytes, produced a bounded piece at a time for streaming answers and
files alike."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

import orjson

# Rows per piece handed to the server: big enough that a piece is not a syscall per row,
# small enough that a piece stays well under a megabyte.
ROWS_PER_PIECE = 500


class ExportFormat(StrEnum):
    NDJSON = "ndjson"
    CSV = "csv"

    @property
    def content_type(self) -> str:
        return "application/x-ndjson" if self is ExportFormat.NDJSON else "text/csv; charset=utf-8"


def _json(value: Any) -> bytes:
    """orjson's JSON, or the standard library's for the rare value orjson refuses: a stored
    number such as 1e20 reads back from Postgres as an integer beyond 64 bits."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def ndjson(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    piece: list[bytes] = []
    for row in rows:
        piece.append(_json(row))
        if len(piece) == ROWS_PER_PIECE:
            yield b"\n".join(piece) + b"\n"
            piece = []
    if piece:
        yield b"\n".join(piece) + b"\n"


def _cell(value: Any) -> Any:
    # A JSON column (props) as JSON text; a cell holds text, and "None" would read as a value.
    if isinstance(value, (dict, list)):
        return _json(value).decode()
    return "" if value is None else value


def csv_pieces(columns: list[str], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """A header line, then the rows, through csv.writer on a small buffer emptied per piece."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for count, row in enumerate(rows, start=1):
        writer.writerow([_cell(row[column]) for column in columns])
        if count % ROWS_PER_PIECE == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def encode(output: ExportFormat, columns: list[str], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    return ndjson(rows) if output is ExportFormat.NDJSON else csv_pieces(columns, rows)
