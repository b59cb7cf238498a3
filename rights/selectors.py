"""What the service holds, read as streams of rows: one visitor's (hand-over) or one range's
(export). Nothing is held in memory beyond a chunk: rows come through server-side cursors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db.models import Model, QuerySet

from analytics.http import iso
from analytics.replica import read_alias
from experiments.models import Assignment, Conversion
from ingest.models import Event, MovementSample, Session
from ingest.services import is_storable_anon_id
from insights.time_ranges import TimeRange

# Rows fetched from the server-side cursor per round trip.
CHUNK_ROWS = 2000


class ExportKind(StrEnum):
    EVENTS = "events"
    SESSIONS = "sessions"
    MOVEMENT = "movement"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class Table:
    """A raw table as handed out: its columns (camelCase keys) and the ORM lookups they read.

    Every stored column is handed out but the row's internal ids and bookkeeping, so that a
    column added to the model is part of exports and hand-overs without a change here.
    """

    model: type[Model]
    hidden: frozenset[str]
    # Columns read across a relation, first: (key, lookup).
    joined: tuple[tuple[str, str], ...] = ()

    @property
    def lookups(self) -> list[str]:
        own = [field.attname for field in self.model._meta.concrete_fields if field.name not in self.hidden]
        return [lookup for _key, lookup in self.joined] + own

    @property
    def columns(self) -> list[str]:
        own = [camel(field.name) for field in self.model._meta.concrete_fields if field.name not in self.hidden]
        return [key for key, _lookup in self.joined] + own


SESSION_ID = ("sessionId", "session__session_id")
TABLES = {
    ExportKind.SESSIONS: Table(Session, frozenset({"id", "project", "first_event_hour", "spans_hours"})),
    ExportKind.EVENTS: Table(Event, frozenset({"id", "project", "session"}), joined=(SESSION_ID,)),
    ExportKind.MOVEMENT: Table(MovementSample, frozenset({"id", "project", "session"}), joined=(SESSION_ID,)),
}


def plain(value: Any) -> Any:
    """A column's value as JSON has it: timestamps in the API's ISO 8601 form."""
    return iso(value) if isinstance(value, datetime) else value


def stream(queryset: QuerySet, table: Table) -> Iterator[dict[str, Any]]:
    """The rows as dicts keyed by column, through a server-side cursor."""
    columns = table.columns
    for row in queryset.values_list(*table.lookups).iterator(chunk_size=CHUNK_ROWS):
        yield {column: plain(value) for column, value in zip(columns, row, strict=True)}


def _of_project(model: type[Model], project_id: uuid.UUID) -> QuerySet:
    """The project's rows of `model`; for events and samples, the sessions they are read with
    (their sessionId) too, so that each of the statement's tables names the project."""
    rows = model.objects.using(read_alias()).filter(project_id=project_id)
    return rows if model is Session else rows.filter(session__project_id=project_id)


def range_queryset(*, project_id: uuid.UUID, kind: ExportKind, time_range: TimeRange) -> QuerySet:
    """A project's rows of `kind` in the range: events and samples by when they happened
    (pruned to the range's day partitions), sessions active in it."""
    rows = _of_project(TABLES[kind].model, project_id)
    if kind is ExportKind.SESSIONS:
        return rows.filter(last_seen_at__gte=time_range.start, first_seen_at__lt=time_range.end).order_by(
            "last_seen_at"
        )
    return rows.filter(occurred_at__gte=time_range.start, occurred_at__lt=time_range.end).order_by("occurred_at")


def export_rows(*, project_id: uuid.UUID, kind: ExportKind, time_range: TimeRange) -> Iterator[dict[str, Any]]:
    return stream(range_queryset(project_id=project_id, kind=kind, time_range=time_range), TABLES[kind])


def _of_sessions(model: type[Model], *, project_id: uuid.UUID, session_ids: list[int]) -> QuerySet:
    """Rows of these sessions, found through the (session, project) index of each day
    partition, as for the erasure (ingest/statements.py)."""
    return _of_project(model, project_id).filter(session_id__in=session_ids).order_by("occurred_at")


def visitor_records(*, project_id: uuid.UUID, anon_id: str) -> Iterator[dict[str, Any]]:
    """Everything held on one visitor, each record tagged with its `kind`: sessions, then
    their events and samples (found by session), then experiment exposures and conversions."""
    if not is_storable_anon_id(anon_id):
        return
    sessions = Session.objects.using(read_alias()).filter(project_id=project_id, anon_id=anon_id)
    session_ids = list(sessions.order_by("id").values_list("id", flat=True))
    for kind, queryset, table in (
        ("session", sessions.order_by("id"), TABLES[ExportKind.SESSIONS]),
        (
            "event",
            _of_sessions(Event, project_id=project_id, session_ids=session_ids),
            TABLES[ExportKind.EVENTS],
        ),
        (
            "movement",
            _of_sessions(MovementSample, project_id=project_id, session_ids=session_ids),
            TABLES[ExportKind.MOVEMENT],
        ),
    ):
        if session_ids:
            for row in stream(queryset, table):
                # A sample's own `kind` (move, click, scroll) would clash with the record's.
                yield {"kind": kind, **{(f"{kind}Kind" if key == "kind" else key): value for key, value in row.items()}}
    scope = {"project_id": project_id, "experiment__project_id": project_id, "anon_id": anon_id}
    for experiment, variant, anon, at in (
        Assignment.objects.using(read_alias())
        .filter(**scope)
        .order_by("assigned_at")
        .values_list("experiment__key", "variant__key", "anon_id", "assigned_at")
    ):
        yield {
            "kind": "assignment",
            "experimentKey": experiment,
            "variantKey": variant,
            "anonId": anon,
            "assignedAt": iso(at),
        }
    for experiment, anon, goal, at in (
        Conversion.objects.using(read_alias())
        .filter(**scope)
        .order_by("converted_at")
        .values_list("experiment__key", "anon_id", "goal", "converted_at")
    ):
        yield {"kind": "conversion", "experimentKey": experiment, "anonId": anon, "goal": goal, "convertedAt": iso(at)}
