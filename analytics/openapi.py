"""The OpenAPI description of /v1: shared pieces, and the hook that adds the plain views.

Answers are described by their shapes (analytics.serializers.ResponseShape), the same
declarations the views render them with. The DRF views (admin API) are described by
drf-spectacular from their input serializers and `extend_schema`. The public endpoints and
health are plain Django views (the hot path skips DRF on purpose), which drf-spectacular
cannot see; each app describes their operations in its `openapi.py`, next to the views,
naming the shapes of their answers, and `add_plain_views` merges those descriptions in.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib import import_module
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_mocked_view, get_class
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from analytics.serializers import ErrorSerializer, HealthSerializer

# Apps whose openapi.py contributes SCHEMAS (components) and PATHS (plain views).
DOC_MODULES = [
    "analytics.openapi",
    "ingest.openapi",
    "experiments.openapi",
]

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
        "content": {"application/json": {"schema": ErrorSerializer}},
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
            ErrorSerializer, description=ADMIN_401 if status == 401 else ERROR_DESCRIPTIONS[status]
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


class ResponseShapeExtension(OpenApiSerializerExtension):
    """An answer holds exactly the keys of its shape: the schema says no other may appear."""

    target_class = "analytics.serializers.ResponseShape"
    match_subclasses = True

    def map_serializer(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        # Its own docstring describes a shape; ResponseShape's would say nothing about it.
        own = get_class(self.target).__dict__.get("__doc__")
        schema.pop("description", None)
        if own:
            schema["description"] = inspect.cleandoc(own)
        return {**schema, "additionalProperties": False}


class VerbatimExtension(OpenApiSerializerFieldExtension):
    target_class = "analytics.serializers.Verbatim"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        return {"type": "array", "items": auto_schema.resolve_serializer(self.target.shape, direction).ref}


class ConstantExtension(OpenApiSerializerFieldExtension):
    target_class = "analytics.serializers.Constant"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        return {"const": self.target.value}


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
                "200": {"description": "Serving.", "content": {"application/json": {"schema": HealthSerializer}}},
                "503": {
                    **error_response(503),
                    "description": "deep=1 and a backing store is down: `details.down` names it "
                    '(`"database"`, `"cache"`), `details.failOpen` counts what was let through.',
                },
            },
        }
    }
}


def _with_components(node: Any, auto_schema: AutoSchema) -> Any:
    """The hand-written description with every serializer class in it replaced by a reference
    to its component, which drf-spectacular builds as it does for the DRF views."""
    if isinstance(node, type) and issubclass(node, serializers.BaseSerializer):
        return auto_schema.resolve_serializer(node, "response").ref
    if isinstance(node, dict):
        return {key: _with_components(value, auto_schema) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_components(value, auto_schema) for value in node]
    return node


def add_plain_views(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: merge the hand-written paths and components.

    Components go through the generator's registry, from which the hooks after this one
    (the enums') rebuild the components.
    """
    registry = generator.registry
    # An AutoSchema as the generator sets one up for a view, writing to the same registry.
    auto_schema = AutoSchema()
    auto_schema.view = build_mocked_view("GET", "/", lambda view: view, registry)
    auto_schema.registry = registry
    auto_schema.method = "GET"
    for name in DOC_MODULES:
        module = import_module(name)
        for component, schema in getattr(module, "SCHEMAS", {}).items():
            registry.register_on_missing(ResolvedComponent(component, ResolvedComponent.SCHEMA, schema, component))
        result["paths"].update(_with_components(getattr(module, "PATHS", {}), auto_schema))
    for scheme, schema in SECURITY_SCHEMES.items():
        registry.register_on_missing(ResolvedComponent(scheme, ResolvedComponent.SECURITY_SCHEMA, schema, scheme))
    result["components"] = registry.build(spectacular_settings.APPEND_COMPONENTS)
    result["paths"] = dict(sorted(result["paths"].items()))
    return result
