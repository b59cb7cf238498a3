"""Checking an ingest batch: the envelope is all or nothing, items are dropped one by one.

Hand-written rather than a generic serializer because it runs for every item of every
batch; it only checks types and bounds and builds plain dicts for the bulk insert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

import orjson

from analytics.errors import ApiError, invalid_field
from analytics.json_numbers import inexact_number

ID_MAX = 128
EVENT_TYPE_MAX = 64
CLIENT_ID_MAX = 64
PATH_MAX = 2048
REFERRER_MAX = 2048
LANDING_URL_MAX = 2048
LANGUAGE_MAX = 35
USER_AGENT_MAX = 512
PROPS_MAX_BYTES = 8 * 1024
# Objects and arrays inside props, the props object being level 1. Far deeper than analytics
# properties go, and far below what encoders and Postgres refuse.
PROPS_MAX_DEPTH = 32
SCREEN_MAX = 100_000
COORDINATE_MAX = 10_000_000
# Epoch milliseconds from 2000 to 2100: outside is a broken clock or a unit mistake.
TS_MIN_MS = 946_684_800_000
TS_MAX_MS = 4_102_444_800_000
# Client times later than this past the server's clock are clamped to the server's clock.
FUTURE_TOLERANCE_MS = 60_000
# Items per batch: the SDK sends at most 200; a cap keeps one request's work bounded.
MAX_EVENTS = 1000
MAX_MOVEMENT = 1000
# Entries in the answer's `rejected` list; `rejectedCount` gives them all.
REJECTED_LISTED = 100
MOVEMENT_KINDS = frozenset({"move", "click", "scroll"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class ItemError(ValueError):
    """One field of an item is unusable: the item is dropped, the rest of the batch goes on."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field_name = field_name
        self.problem = problem


@dataclass(slots=True)
class SessionInput:
    session_id: str
    anon_id: str
    referrer: str
    language: str
    screen_width: int | None
    screen_height: int | None
    # Read for its campaign parameters and click ids (ingest/enrichment.py), never stored.
    landing_url: str = ""


def epoch_us(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def from_epoch_us(microseconds: int) -> datetime:
    return EPOCH + timedelta(microseconds=microseconds)


# Items are plain dicts keyed like the columns they fill: they go to Postgres as JSON, which
# orjson writes from dicts several times faster than from dataclasses. Times are whole
# microseconds since the epoch: exact, and cheaper to make and encode than a datetime.
class EventInput(TypedDict):
    client_id: str | None
    type: str
    path: str
    props: dict[str, Any]
    occurred_us: int


class MovementInput(TypedDict):
    occurred_us: int
    x: int
    y: int
    kind: str
    path: str
    viewport_width: int | None
    viewport_height: int | None


@dataclass(slots=True)
class Batch:
    session: SessionInput
    # The client's id for this batch, the same on every retry of it (optional).
    batch_id: str | None = None
    events: list[EventInput] = field(default_factory=list)
    movement: list[MovementInput] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_count: int = 0

    def reject(self, kind: str, index: int, error: ItemError) -> None:
        self.rejected_count += 1
        if len(self.rejected) < REJECTED_LISTED:
            self.rejected.append({"kind": kind, "index": index, "reason": str(error)})


def _number_error(value: Any, name: str, problem: str) -> ItemError:
    """The error of a number field: a number that could not be read exactly is named as such."""
    number = inexact_number(value)
    return ItemError(name, problem if number is None else _inexact_problem(number))


def _inexact_problem(number: str) -> str:
    return (
        f"the number {number} cannot be stored exactly "
        "(integers must fit in 64 bits, other numbers in a 64-bit float); send it as a string"
    )


def _is_number(value: Any) -> bool:
    # Exact types: what a JSON parser makes, and True/False are not numbers.
    kind = type(value)
    return kind is int or (kind is float and math.isfinite(value))


def _text(value: Any, name: str, *, max_length: int, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if type(value) is not str or (required and not value):
        raise ItemError(name, f"must be a {'non-empty ' if required else ''}string")
    if len(value) > max_length:
        raise ItemError(name, f"must be at most {max_length} characters")
    if "\x00" in value:
        if inexact_number(value) is not None:
            raise ItemError(name, f"must be a {'non-empty ' if required else ''}string")
        raise ItemError(name, "must not contain NUL characters")
    return value


def _size(value: Any, name: str, *, maximum: int) -> int | None:
    if value is None:
        return None
    if type(value) is int and 0 <= value <= maximum:
        return value
    if not _is_number(value) or not 0 <= value <= maximum:
        raise _number_error(value, name, f"must be a number from 0 to {maximum}")
    return round(value)


class Clock:
    """Turns client timestamps into server time: ts + (receivedAt - sentAt), clamped to now."""

    def __init__(self, *, received_at: datetime, sent_at: Any) -> None:
        self.now_us = epoch_us(received_at)
        self.latest_us = self.now_us + FUTURE_TOLERANCE_MS * 1000
        if sent_at is None:
            self.skew_us = 0
        elif _is_number(sent_at) and TS_MIN_MS <= sent_at <= TS_MAX_MS:
            self.skew_us = self.now_us - round(sent_at * 1000)
        else:
            error = _number_error(sent_at, "sentAt", "must be epoch milliseconds between 2000 and 2100")
            raise invalid_field("sentAt", error.problem)

    def moment(self, ts: Any) -> int:
        """The item's server time in epoch microseconds."""
        if ts is None:
            return self.now_us
        if not _is_number(ts) or not TS_MIN_MS <= ts <= TS_MAX_MS:
            raise _number_error(ts, "ts", "must be epoch milliseconds between 2000 and 2100")
        corrected = round(ts * 1000) + self.skew_us
        return self.now_us if corrected > self.latest_us else corrected


def _session(raw: Any) -> SessionInput:
    if not isinstance(raw, dict):
        raise invalid_field("session", "must be an object with sessionId and anonId")
    try:
        screen = raw.get("screen")
        if screen is not None and not isinstance(screen, dict):
            raise ItemError("screen", "must be an object with w and h")
        screen = screen or {}
        return SessionInput(
            session_id=_text(raw.get("sessionId"), "sessionId", max_length=ID_MAX, required=True),
            anon_id=_text(raw.get("anonId"), "anonId", max_length=ID_MAX, required=True),
            referrer=_text(raw.get("referrer"), "referrer", max_length=REFERRER_MAX),
            language=_text(raw.get("language"), "language", max_length=LANGUAGE_MAX),
            screen_width=_size(screen.get("w"), "screen.w", maximum=SCREEN_MAX),
            screen_height=_size(screen.get("h"), "screen.h", maximum=SCREEN_MAX),
            landing_url=_text(raw.get("landingUrl"), "landingUrl", max_length=LANDING_URL_MAX),
        )
    except ItemError as exc:
        raise invalid_field(f"session.{exc.field_name}", exc.problem) from None


def _props_problem(props: dict[str, Any]) -> str | None:
    """What keeps props from being stored, but for their encoded size: nesting deeper than
    PROPS_MAX_DEPTH, a NUL character (Postgres jsonb cannot hold it), a number that could not
    be read exactly, or more values than fit in PROPS_MAX_BYTES. Walked before they are
    encoded, so the encoder never sees deep nesting (orjson 3.11.3 corrupted memory on objects
    172 to 191 deep); a loop, as a JSON body may nest 1,024 levels deep."""
    pending = [(props, 1)]
    # Each value takes 2 bytes of JSON at least ("0,"): more cannot fit.
    budget = PROPS_MAX_BYTES // 2
    while pending:
        value, depth = pending.pop()
        if depth > PROPS_MAX_DEPTH:
            return f"must not nest objects and arrays more than {PROPS_MAX_DEPTH} levels deep"
        budget -= len(value)
        if budget < 0:
            return f"must be at most {PROPS_MAX_BYTES} bytes of JSON"
        if type(value) is dict:
            if any("\x00" in key for key in value):
                return "must not contain NUL characters"
            value = value.values()
        for child in value:
            kind = type(child)
            if kind is dict or kind is list:
                pending.append((child, depth + 1))
            elif kind is str and "\x00" in child:
                number = inexact_number(child)
                return "must not contain NUL characters" if number is None else _inexact_problem(number)
    return None


def _props(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise ItemError("props", "must be an object")
    problem = _props_problem(value)
    if problem is None and len(orjson.dumps(value)) > PROPS_MAX_BYTES:
        problem = f"must be at most {PROPS_MAX_BYTES} bytes of JSON"
    if problem is not None:
        raise ItemError("props", problem)
    return value


def _event(raw: Any, clock: Clock) -> EventInput:
    if type(raw) is not dict:
        raise ItemError("event", "must be an object")
    client_id = raw.get("id")
    return {
        "client_id": None if client_id is None else _text(client_id, "id", max_length=CLIENT_ID_MAX, required=True),
        "type": _text(raw.get("type"), "type", max_length=EVENT_TYPE_MAX, required=True),
        "path": _text(raw.get("path"), "path", max_length=PATH_MAX),
        "props": _props(raw.get("props")),
        "occurred_us": clock.moment(raw.get("ts")),
    }


def _coordinate(value: Any, name: str) -> int:
    if type(value) is int and 0 <= value <= COORDINATE_MAX:
        return value
    if not _is_number(value) or not 0 <= value <= COORDINATE_MAX:
        raise _number_error(value, name, f"must be a number from 0 to {COORDINATE_MAX}")
    return round(value)


def _movement(raw: Any, clock: Clock) -> MovementInput:
    if type(raw) is not dict:
        raise ItemError("sample", "must be an object")
    kind = raw.get("kind")
    # The type first: an array or object cannot be looked up in a set.
    if type(kind) is not str or kind not in MOVEMENT_KINDS:
        raise ItemError("kind", "must be one of move, click, scroll")
    return {
        "occurred_us": clock.moment(raw.get("ts")),
        "x": _coordinate(raw.get("x"), "x"),
        "y": _coordinate(raw.get("y"), "y"),
        "kind": kind,
        "path": _text(raw.get("path"), "path", max_length=PATH_MAX),
        "viewport_width": _size(raw.get("vw"), "vw", maximum=SCREEN_MAX),
        "viewport_height": _size(raw.get("vh"), "vh", maximum=SCREEN_MAX),
    }


def _array(payload: dict[str, Any], name: str, *, maximum: int) -> list[Any]:
    value = payload.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_field(name, "must be an array")
    if len(value) > maximum:
        raise ApiError(
            400,
            "too_many_items",
            f"{name}: at most {maximum} items in one batch; send the rest in another batch.",
            details={"field": name, "maximum": maximum},
        )
    return value


def _batch_id(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return _text(value, "batchId", max_length=ID_MAX, required=True)
    except ItemError as exc:
        raise invalid_field("batchId", exc.problem) from None


def parse_batch(payload: dict[str, Any], *, received_at: datetime) -> Batch:
    """The batch's session and good items; an envelope error raises ApiError (400)."""
    session = _session(payload.get("session"))
    raw_events = _array(payload, "events", maximum=MAX_EVENTS)
    raw_movement = _array(payload, "movement", maximum=MAX_MOVEMENT)
    clock = Clock(received_at=received_at, sent_at=payload.get("sentAt"))
    batch = Batch(session=session, batch_id=_batch_id(payload.get("batchId")))
    for index, raw in enumerate(raw_events):
        try:
            batch.events.append(_event(raw, clock))
        except ItemError as exc:
            batch.reject("event", index, exc)
    for index, raw in enumerate(raw_movement):
        try:
            batch.movement.append(_movement(raw, clock))
        except ItemError as exc:
            batch.reject("movement", index, exc)
    return batch
