"""The OpenAPI description of /v1: shared pieces, and the hook that adds the plain views.

The DRF views (admin API) are described by drf-spectacular from their input serializers and
`extend_schema`. The public endpoints and health are plain Django views (the hot path skips
DRF on purpose), which drf-spectacular cannot see; each app describes them by hand in its
`openapi.py`, next to the views, and `add_plain_views` merges those descriptions in.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

# Apps whose openapi.py contributes SCHEMAS (components) and PATHS (plain views).
DOC_MODULES = ["analytics.openapi", "projects.openapi", "ingest.openapi", "experiments.openapi"]

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}

ERROR_DESCRIPTIONS = {
    400: "Malformed body or invalid field (`invalid_json`, `invalid_body`, `invalid_field`, `invalid_content_length`, "
    "`too_many_items`).",
    401: "Missing (`missing_api_key`), unknown or revoked (`invalid_api_key`) apiKey.",
    403: "The Origin header is not one of the project's origins (`origin_not_allowed`).",
    404: "Unknown project, key or experiment.",
    409: "Conflict: the key is already used (`experiment_exists`).",
    413: "The body is larger than MAX_BODY_BYTES (`body_too_large`).",
    429: "Rate limited (`rate_limited`); retry after Retry-After seconds.",
    503: "A backing store is down (`database_unavailable`, `dependency_down`); retry after Retry-After seconds.",
}

ADMIN_401 = "Missing or wrong x-admin-key, or no ADMIN_API_KEY configured (`invalid_admin_key`)."

NO_NUL = "^[^\\u0000]*$"

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every error of the API has this shape.",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "examples": ["invalid_field"]},
                    "message": {"type": "string", "description": "What went wrong and how to fix it."},
                    "details": {"type": "object", "description": "More about the error, e.g. which field failed."},
                },
            }
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "additionalProperties": False,
        "properties": {
            "status": {"const": "ok"},
            "checks": {
                "type": "object",
                "description": "With deep=1: each backing store checked.",
                "required": ["database", "cache"],
                "properties": {"database": {"const": "ok"}, "cache": {"const": "ok"}},
            },
            "failOpen": {"$ref": "#/components/schemas/FailOpen"},
        },
    },
    "FailOpen": {
        "type": "object",
        "description": "With deep=1: requests this server process let through without Redis, since it started.",
        "required": ["rateLimit", "keyCache"],
        "additionalProperties": False,
        "properties": {
            "rateLimit": {"type": "integer", "minimum": 0, "description": "Requests not rate limited."},
            "keyCache": {"type": "integer", "minimum": 0, "description": "Key lookups that skipped the cache."},
        },
    },
}

SECURITY_SCHEMES: dict[str, Any] = {
    "adminKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-admin-key",
        "description": "ADMIN_API_KEY, compared in constant time. Without ADMIN_API_KEY configured every call is 401.",
    },
    "browserKey": {
        # OpenAPI has no body-located key; the scheme is declared so that the public operations
        # say how they authenticate, and x-in tells tools where the key really travels.
        "type": "apiKey",
        "in": "header",
        "name": "apiKey",
        "x-in": "body",
        "description": (
            "Not a header: the public browser key (`ak_...`) travels as the `apiKey` field of the JSON "
            "body, because navigator.sendBeacon cannot set headers. It selects the project; a request "
            "with an Origin header must come from one of that project's origins."
        ),
    },
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def closed_object(properties: dict[str, Any], *, optional: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """An object with exactly these properties, all required but the `optional` ones."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "required": required, "additionalProperties": False, "properties": properties, **extra}


def error_response(status: int) -> dict[str, Any]:
    """A response object (plain OpenAPI) for an error status, for the hand-written paths."""
    response: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


def admin_operation(
    *,
    operation_id: str,
    success: dict[int | tuple[int, str], OpenApiResponse],
    errors: tuple[int, ...] = (),
    request: type | None = None,
    parameters: tuple[OpenApiParameter, ...] = (),
    description: str | None = None,
) -> Callable[[Any], Any]:
    """`extend_schema` for an admin view: its own answers plus 401 and 503 that every admin
    call can give, and 400 and 413 when it reads a body (`request`, an input serializer)."""
    standard = (400, 401, 413, 503) if request is not None else (401, 503)
    responses: dict[int | tuple[int, str], OpenApiResponse] = dict(success)
    for status in sorted({*standard, *errors}):
        responses[status] = OpenApiResponse(
            ref("Error"), description=ADMIN_401 if status == 401 else ERROR_DESCRIPTIONS[status]
        )
    retry_after = OpenApiParameter(
        "Retry-After",
        str,
        OpenApiParameter.HEADER,
        response=[503],
        description=RETRY_AFTER["Retry-After"]["description"],
    )
    return extend_schema(
        operation_id=operation_id,
        # The DRF views read JSON themselves (no parser classes), so the media type is named here.
        request={"application/json": request} if request is not None else None,
        responses=responses,
        parameters=[*parameters, retry_after],
        description=description,
    )


class AdminAutoSchema(AutoSchema):
    """The admin views authenticate with a permission class, which drf-spectacular cannot
    read as a security scheme: it is declared here."""

    def get_auth(self) -> list[dict[str, list]]:
        return [{"adminKey": []}]


class StrictCharFieldExtension(OpenApiSerializerFieldExtension):
    """DRF's CharField refuses NUL characters (Postgres text cannot hold them): say so."""

    target_class = "analytics.api.StrictCharField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        # Non-empty: drf-spectacular offers a blank field's "" as a oneOf alternative, which
        # this pattern must not match too.
        return {**schema, "pattern": "^[^\\u0000]+$"}


PATHS: dict[str, Any] = {
    "/v1/health": {
        "get": {
            "operationId": "health",
            "tags": ["health"],
            "summary": "Liveness, or with deep=1 the state of the database and the cache",
            "security": [],
            "parameters": [
                {
                    "name": "deep",
                    "in": "query",
                    "required": False,
                    "description": "1 or true also checks the database and the cache; anything else is liveness only.",
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": {"description": "Serving.", "content": {"application/json": {"schema": ref("Health")}}},
                "503": {
                    **error_response(503),
                    "description": "deep=1 and a backing store is down: `details.down` names it "
                    '(`"database"`, `"cache"`), `details.failOpen` counts what was let through.',
                },
            },
        }
    }
}


def add_plain_views(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: merge the hand-written paths and components."""
    components = result.setdefault("components", {})
    for name in DOC_MODULES:
        module = import_module(name)
        components.setdefault("schemas", {}).update(getattr(module, "SCHEMAS", {}))
        result["paths"].update(getattr(module, "PATHS", {}))
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    result["paths"] = dict(sorted(result["paths"].items()))
    components["schemas"] = dict(sorted(components["schemas"].items()))
    return result
