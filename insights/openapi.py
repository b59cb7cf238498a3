"""OpenAPI components of the stats and heatmap answers (see analytics/openapi.py)."""

from typing import Any

from analytics.openapi import closed_object
from insights import heatmaps

COUNT = {"type": "integer", "minimum": 0}
MOMENT = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC."}
RANGE = {"from": MOMENT, "to": MOMENT, "timeZone": {"const": "UTC"}}


def _ranked(name: str, count: str) -> dict[str, Any]:
    return {"type": "array", "maxItems": 10, "items": closed_object({name: {"type": "string"}, count: COUNT})}


SCHEMAS: dict[str, Any] = {
    "TrafficStats": closed_object(
        {
            "projectId": {"type": "string", "format": "uuid"},
            **RANGE,
            "interval": {"type": "string", "enum": ["hour", "day"]},
            "totals": closed_object(
                {
                    "pageViews": COUNT,
                    "events": COUNT,
                    "sessions": COUNT,
                    "visitors": COUNT,
                    "eventsPerSession": {"type": ["number", "null"], "minimum": 0},
                    "sessionsWithPageView": COUNT,
                    "bouncedSessions": COUNT,
                    "bounceRate": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                }
            ),
            "series": {
                "type": "array",
                "items": closed_object({"start": MOMENT, "pageViews": COUNT, "sessions": COUNT}),
            },
            "topPaths": _ranked("path", "pageViews"),
            "topReferrers": _ranked("referrer", "sessions"),
            "topEventTypes": _ranked("type", "events"),
            "languages": _ranked("language", "sessions"),
            "screenSizes": {
                "type": "array",
                "maxItems": 10,
                "items": closed_object(
                    {"width": {"type": ["integer", "null"]}, "height": {"type": ["integer", "null"]}, "sessions": COUNT}
                ),
            },
        }
    ),
    "Heatmap": closed_object(
        {
            "projectId": {"type": "string", "format": "uuid"},
            "path": {"type": "string"},
            "kind": {"type": "string", "enum": ["click", "move"]},
            **RANGE,
            "referenceWidth": {"const": heatmaps.REFERENCE_WIDTH},
            "cellSize": {"const": heatmaps.CELL},
            "columns": {"const": heatmaps.COLUMNS},
            "rows": COUNT,
            "samples": COUNT,
            "maxCount": COUNT,
            "bins": {
                "type": "array",
                "description": "Non-empty bins as [column, row, count].",
                "items": {"type": "array", "items": COUNT, "minItems": 3, "maxItems": 3},
            },
            "scrollDepth": closed_object(
                {
                    "sessions": COUNT,
                    "steps": {
                        "type": "array",
                        "items": closed_object(
                            {"depth": COUNT, "sessions": COUNT, "share": {"type": "number", "minimum": 0, "maximum": 1}}
                        ),
                    },
                }
            ),
        }
    ),
}
