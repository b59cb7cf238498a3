"""OpenAPI description of POST /v1/ingest, a plain Django view (see analytics/openapi.py)."""

from typing import Any

from analytics.openapi import NO_NUL, error_response, ref
from ingest import payload
from ingest.serializers import IngestResultSerializer

TIMESTAMP_MS = {
    "type": ["number", "null"],
    "minimum": payload.TS_MIN_MS,
    "maximum": payload.TS_MAX_MS,
    "description": "Epoch milliseconds on the client's clock (2000 to 2100); missing means now.",
}


def _text(max_length: int, *, required: bool = False, **extra: Any) -> dict[str, Any]:
    if required:
        return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NO_NUL, **extra}
    return {"type": ["string", "null"], "maxLength": max_length, "pattern": NO_NUL, **extra}


def _size(maximum: int) -> dict[str, Any]:
    return {"type": ["number", "null"], "minimum": 0, "maximum": maximum}


def _coordinate() -> dict[str, Any]:
    return {"type": "number", "minimum": 0, "maximum": payload.COORDINATE_MAX, "description": "Page pixels."}


SCHEMAS: dict[str, Any] = {
    "IngestBatch": {
        "type": "object",
        "required": ["apiKey", "session"],
        "description": (
            "The envelope is all or nothing: a bad apiKey, session or body answers an error and stores "
            "nothing. Inside a good envelope each event and sample is checked on its own: one that does "
            "not match its schema is listed in `rejected` and the others are stored."
        ),
        "properties": {
            "apiKey": {"type": "string", "description": "The public browser key, ak_..."},
            "sentAt": {**TIMESTAMP_MS, "description": "When the client sent the batch: corrects its clock skew."},
            "batchId": {
                **_text(payload.ID_MAX, required=True),
                "type": ["string", "null"],
                "description": "The client's id for this batch, the same on every retry: a batch already "
                "stored under it stores nothing again (its events count as duplicates).",
            },
            "session": {
                "type": "object",
                "required": ["sessionId", "anonId"],
                "properties": {
                    "sessionId": _text(payload.ID_MAX, required=True),
                    "anonId": _text(payload.ID_MAX, required=True),
                    "referrer": _text(payload.REFERRER_MAX),
                    "language": _text(payload.LANGUAGE_MAX),
                    "landingUrl": _text(
                        payload.LANDING_URL_MAX,
                        description="The URL of the session's first page. Only its utm_* parameters and "
                        "whether it has a gclid, msclkid or fbclid are kept (from the session's first "
                        "batch); the rest of it is dropped.",
                    ),
                    "screen": {
                        "type": ["object", "null"],
                        "properties": {"w": _size(payload.SCREEN_MAX), "h": _size(payload.SCREEN_MAX)},
                    },
                },
            },
            "events": {
                "type": ["array", "null"],
                "items": ref("IngestEvent"),
                "maxItems": payload.MAX_EVENTS,
                "description": f"At most {payload.MAX_EVENTS}; more answers 400 `too_many_items`, storing nothing.",
            },
            "movement": {
                "type": ["array", "null"],
                "items": ref("IngestMovementSample"),
                "maxItems": payload.MAX_MOVEMENT,
                "description": f"At most {payload.MAX_MOVEMENT}; more answers 400 `too_many_items`, storing nothing.",
            },
        },
    },
    "IngestEvent": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "id": {
                **_text(payload.CLIENT_ID_MAX),
                "minLength": 1,
                "description": "A client-made id: the same id stored twice in a project is one event.",
            },
            "type": _text(payload.EVENT_TYPE_MAX, required=True, examples=["page_view"]),
            "path": _text(payload.PATH_MAX),
            "ts": TIMESTAMP_MS,
            "props": {
                "type": ["object", "null"],
                "description": (
                    f"At most {payload.PROPS_MAX_BYTES} bytes of JSON, without NUL characters, nesting objects "
                    f"and arrays at most {payload.PROPS_MAX_DEPTH} levels deep. Numbers are stored as sent: an "
                    "integer beyond 64 bits or a number a 64-bit float does not hold (1e400, "
                    "1.0000000000000000001) rejects the event; send such values as strings."
                ),
            },
        },
    },
    "IngestMovementSample": {
        "type": "object",
        "required": ["kind", "x", "y"],
        "properties": {
            "kind": {"type": "string", "enum": sorted(payload.MOVEMENT_KINDS)},
            "x": _coordinate(),
            "y": _coordinate(),
            "ts": TIMESTAMP_MS,
            "path": _text(payload.PATH_MAX),
            "vw": _size(payload.SCREEN_MAX),
            "vh": _size(payload.SCREEN_MAX),
        },
    },
}

PATHS: dict[str, Any] = {
    "/v1/sdk.js": {
        "get": {
            "operationId": "browserSdk",
            "tags": ["ingest"],
            "summary": "The browser SDK (gzipped when the client accepts it)",
            "security": [],
            "parameters": [
                {
                    "name": "v",
                    "in": "query",
                    "required": False,
                    "description": "The SDK version: with the current one the answer may be cached for a year.",
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": {
                    "description": "The SDK.",
                    "headers": {
                        "ETag": {"schema": {"type": "string"}},
                        "Cache-Control": {"schema": {"type": "string"}},
                    },
                    "content": {"application/javascript": {"schema": {"type": "string"}}},
                },
                "304": {"description": "Not modified (If-None-Match matched the ETag)."},
            },
        }
    },
    "/v1/ingest": {
        "post": {
            "operationId": "ingest",
            "tags": ["ingest"],
            "summary": "Store a batch of events and movement samples from one browser session",
            "description": (
                "Everything accepted is committed before the answer is sent. Retrying a batch is safe: "
                "events with an id already stored count in `duplicates`. Rate limited per apiKey and "
                "client address (RATE_LIMIT_PER_MIN), and requests with unknown keys per client address "
                "(UNKNOWN_KEY_RATE_LIMIT_PER_MIN); if Redis is down the limits fail open. A batch whose "
                "User-Agent is a crawler, bot or headless browser is checked like any other but, when the "
                "project has filterBots on, not stored: 202 with accepted 0/0 and filtered bot."
            ),
            "security": [{"browserKey": []}],
            "requestBody": {
                "required": True,
                "description": "JSON whatever the Content-Type says (text/plain is what sendBeacon sends).",
                "content": {"application/json": {"schema": ref("IngestBatch")}},
            },
            "responses": {
                "202": {
                    "description": "Stored (what was accepted), with what was dropped and why; or filtered as a bot.",
                    "content": {"application/json": {"schema": IngestResultSerializer}},
                },
                **{str(status): error_response(status) for status in (400, 401, 403, 413, 429, 503)},
            },
        }
    },
}
