"""OpenAPI description of experiments: components of the admin API, and the public assign and
convert endpoints, which are plain Django views (see analytics/openapi.py)."""

from typing import Any

from analytics.openapi import NO_NUL, closed_object, error_response, ref
from experiments.validation import KEY_REGEX, MAX_ANON_ID_LENGTH, MAX_GOAL_LENGTH, MAX_VARIANTS, WEIGHT_TOTAL

# JSON Schema patterns are ECMA-262: \Z is Python's end of string.
KEY_PATTERN = KEY_REGEX.replace("\\Z", "$")
NUMBER_OR_NULL = {"type": ["number", "null"]}
PROBABILITY_OR_NULL = {"type": ["number", "null"], "minimum": 0, "maximum": 1}

VARIANT = closed_object(
    {
        "key": {"type": "string", "pattern": KEY_PATTERN},
        "weight": {"type": "integer", "minimum": 0, "maximum": WEIGHT_TOTAL},
    }
)
ANON_ID = {"type": "string", "minLength": 1, "maxLength": MAX_ANON_ID_LENGTH, "pattern": NO_NUL}
API_KEY = {"type": "string", "description": "The public browser key, ak_..."}

SCHEMAS: dict[str, Any] = {
    "Experiment": closed_object(
        {
            "id": {"type": "string", "format": "uuid"},
            "projectId": {"type": "string", "format": "uuid"},
            "key": {"type": "string", "pattern": KEY_PATTERN},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "status": {"type": "string", "enum": ["running", "stopped"]},
            "createdAt": {"type": "string", "format": "date-time"},
            "variants": {"type": "array", "items": VARIANT, "minItems": 2, "maxItems": MAX_VARIANTS},
        }
    ),
    "ExperimentResults": closed_object(
        {
            "experiment": closed_object(
                {
                    "key": {"type": "string"},
                    "projectId": {"type": "string", "format": "uuid"},
                    "status": {"type": "string", "enum": ["running", "stopped"]},
                }
            ),
            "goal": {"type": ["string", "null"]},
            "variants": {
                "type": "array",
                "description": "The control first; every other variant carries its comparison with the control.",
                "items": closed_object(
                    {
                        "variantKey": {"type": "string"},
                        "weight": {"type": "integer", "minimum": 0, "maximum": WEIGHT_TOTAL},
                        "exposures": {"type": "integer", "minimum": 0},
                        "conversions": {"type": "integer", "minimum": 0},
                        "rate": {"type": "number", "minimum": 0, "maximum": 1},
                        "uplift": NUMBER_OR_NULL,
                        "pValue": PROBABILITY_OR_NULL,
                        "ci95": {
                            "type": ["array", "null"],
                            "items": {"type": "number"},
                            "minItems": 2,
                            "maxItems": 2,
                        },
                        "chanceToBeatControl": PROBABILITY_OR_NULL,
                    },
                    optional=("uplift", "pValue", "ci95", "chanceToBeatControl"),
                ),
            },
            "srm": closed_object({"pValue": PROBABILITY_OR_NULL, "flagged": {"type": "boolean"}}),
        }
    ),
    "AssignRequest": closed_object({"apiKey": API_KEY, "anonId": ANON_ID}, additionalProperties=True),
    "Assignment": closed_object({"variantKey": {"type": "string", "pattern": KEY_PATTERN}}),
    "ConvertRequest": closed_object(
        {
            "apiKey": API_KEY,
            "anonId": ANON_ID,
            "goal": {"type": "string", "minLength": 1, "maxLength": MAX_GOAL_LENGTH, "pattern": NO_NUL},
        },
        additionalProperties=True,
    ),
    "Conversion": {
        "oneOf": [
            closed_object({"recorded": {"const": True}}),
            closed_object(
                {"recorded": {"const": False}, "reason": {"type": "string", "enum": ["duplicate", "not_exposed"]}}
            ),
        ]
    },
}

EXPERIMENT_KEY_PARAMETER = {
    "name": "key",
    "in": "path",
    "required": True,
    "description": "The experiment's key within the project of the apiKey.",
    "schema": {"type": "string"},
}


def _public_operation(*, operation_id: str, summary: str, request: str, answer: str, description: str) -> dict:
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
                "200": {"description": "Done.", "content": {"application/json": {"schema": ref(answer)}}},
                **{str(status): error_response(status) for status in (400, 401, 403, 404, 413, 429, 503)},
            },
        }
    }


PATHS: dict[str, Any] = {
    "/v1/experiments/{key}/assign": _public_operation(
        operation_id="assignVariant",
        summary="The anonId's variant, recorded as its exposure the first time",
        request="AssignRequest",
        answer="Assignment",
        description="Sticky: the same anonId always gets the same variant. A stopped experiment answers its "
        "control and records nothing. 404 when the key's project has no experiment with this key.",
    ),
    "/v1/experiments/{key}/convert": _public_operation(
        operation_id="recordConversion",
        summary="Record that an exposed anonId reached a goal, once per goal",
        request="ConvertRequest",
        answer="Conversion",
        description="recorded is true the first time for (experiment, anonId, goal); then false with reason "
        "duplicate. An anonId never assigned gets false with reason not_exposed and counts nowhere.",
    ),
}
