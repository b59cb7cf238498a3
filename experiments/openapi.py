"""OpenAPI description of the public assign and convert endpoints, which are plain Django
views, and of the variants an admin request sends (see analytics/openapi.py). Answers are
described by their shapes, in experiments/serializers.py."""

from typing import Any

from analytics.openapi import NO_NUL, closed_object, error_response, ref
from analytics.serializers import ResponseShape
from experiments.serializers import AssignmentSerializer, ConversionSerializer
from experiments.validation import KEY_REGEX, MAX_ANON_ID_LENGTH, MAX_GOAL_LENGTH, WEIGHT_TOTAL

# JSON Schema patterns are ECMA-262: \Z is Python's end of string.
KEY_PATTERN = KEY_REGEX.replace("\\Z", "$")

VARIANT = closed_object(
    {
        "key": {"type": "string", "pattern": KEY_PATTERN},
        "weight": {"type": "integer", "minimum": 0, "maximum": WEIGHT_TOTAL},
    }
)
ANON_ID = {"type": "string", "minLength": 1, "maxLength": MAX_ANON_ID_LENGTH, "pattern": NO_NUL}
API_KEY = {"type": "string", "description": "The public browser key, ak_..."}

SCHEMAS: dict[str, Any] = {
    "AssignRequest": closed_object({"apiKey": API_KEY, "anonId": ANON_ID}, additionalProperties=True),
    "ConvertRequest": closed_object(
        {
            "apiKey": API_KEY,
            "anonId": ANON_ID,
            "goal": {"type": "string", "minLength": 1, "maxLength": MAX_GOAL_LENGTH, "pattern": NO_NUL},
        },
        additionalProperties=True,
    ),
}

EXPERIMENT_KEY_PARAMETER = {
    "name": "key",
    "in": "path",
    "required": True,
    "description": "The experiment's key within the project of the apiKey.",
    "schema": {"type": "string"},
}


def _public_operation(
    *, operation_id: str, summary: str, request: str, answer: type[ResponseShape], description: str
) -> dict:
    return {
        "post": {
            "operationId": operation_id,
            "tags": ["experiments"],
            "summary": summary,
            "description": description,
            "security": [{"browserKey": []}],
            "parameters": [EXPERIMENT_KEY_PARAMETER],
            "requestBody": {
                "required": True,
                "description": "JSON whatever the Content-Type says (text/plain is what sendBeacon sends).",
                "content": {"application/json": {"schema": ref(request)}},
            },
            "responses": {
                "200": {"description": "Done.", "content": {"application/json": {"schema": answer}}},
                **{str(status): error_response(status) for status in (400, 401, 403, 404, 413, 429, 503)},
            },
        }
    }


PATHS: dict[str, Any] = {
    "/v1/experiments/{key}/assign": _public_operation(
        operation_id="assignVariant",
        summary="The anonId's variant, recorded as its exposure the first time",
        request="AssignRequest",
        answer=AssignmentSerializer,
        description="Sticky: the same anonId always gets the same variant. A stopped experiment answers its "
        "control and records nothing, and so does a request from a crawler, bot or headless browser when the "
        "project has filterBots on. 404 when the key's project has no experiment with this key.",
    ),
    "/v1/experiments/{key}/convert": _public_operation(
        operation_id="recordConversion",
        summary="Record that an exposed anonId reached a goal, once per goal",
        request="ConvertRequest",
        answer=ConversionSerializer,
        description="recorded is true the first time for (experiment, anonId, goal); then false with reason "
        "duplicate. An anonId never assigned gets false with reason not_exposed and counts nowhere; a crawler, bot "
        "or headless browser gets false with reason bot when the project has filterBots on.",
    ),
}
