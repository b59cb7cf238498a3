"""OpenAPI components of the admin API's projects and keys (see analytics/openapi.py)."""

from typing import Any

from analytics.openapi import closed_object

TIMESTAMP = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC."}
UUID = {"type": "string", "format": "uuid"}

PROJECT = {
    "id": UUID,
    "name": {"type": "string"},
    "origins": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Allowed browser origins, scheme://host[:port], normalised.",
    },
    "createdAt": TIMESTAMP,
}
KEY = {
    "key": {"type": "string", "pattern": "^ak_[A-Za-z0-9_-]{24,}$", "description": "The public browser key."},
    "label": {"type": "string"},
    "createdAt": TIMESTAMP,
    "revokedAt": {**TIMESTAMP, "type": ["string", "null"], "description": "ISO 8601, UTC; null while active."},
}

SCHEMAS: dict[str, Any] = {
    "Project": closed_object(PROJECT),
    "Key": closed_object(KEY),
    "NewKey": closed_object({**KEY, "projectId": UUID}),
    "ProjectList": closed_object(
        {
            "projects": {
                "type": "array",
                "items": closed_object(
                    {**PROJECT, "keys": {"type": "array", "items": {"$ref": "#/components/schemas/Key"}}}
                ),
            }
        }
    ),
}
