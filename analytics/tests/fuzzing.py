"""Hypothesis strategies for arbitrary JSON values, and a check of answers against /v1/schema.

Values are written as JSON text by `encode`, not by a JSON library, so that they can hold
what Python's encoders refuse or change: integers beyond 64 bits, numbers as written
(1e400, 1.0000000000000000001, -0.0) and nesting a thousand levels deep.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

# A few hundred examples a test: the public endpoints' checks in well under a minute on
# Postgres (FUZZ_EXAMPLES sets another number, for a longer search). Examples share the test's
# database transaction, hence the function-scoped fixtures (each example uses ids of its own).
FUZZ_SETTINGS = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@dataclass(frozen=True)
class Raw:
    """JSON text put into the body as it is."""

    text: str


# Numbers as written: beyond 64 bits, beyond a double's range or precision, and the zeros.
NUMBER_LITERALS = [
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "1.0000000000000000001",
    "1e400",
    "-1e400",
    "1e-400",
    "5e-324",
    "-0.0",
    "0e0",
    "1E+2",
]

# Any character but surrogates, which JSON text in UTF-8 cannot carry alone; NUL included.
text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2).map(lambda n: n * (-1) ** (n % 2)),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
    st.sampled_from(NUMBER_LITERALS).map(Raw),
)
# Nesting far deeper than props may, within the thousand-odd levels the JSON parser reads.
deep = st.builds(
    lambda depth, brackets: Raw(brackets[0] * depth + "1" + brackets[1] * depth),
    st.integers(min_value=2, max_value=1000),
    st.sampled_from([("[", "]"), ('{"a":', "}")]),
)
json_values = (
    st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
        max_leaves=12,
    )
    | deep
)


def mostly(usual: st.SearchStrategy, other: st.SearchStrategy, *, out_of: int = 4) -> st.SearchStrategy:
    """`usual`, and one time in `out_of` `other`: good values often enough to get past checks."""
    return st.integers(1, out_of).flatmap(lambda n: other if n == 1 else usual)


def encode(value: Any) -> str:
    """JSON text of `value`, Raw parts as they are; strings in UTF-8, not escaped."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return (
            "{" + ",".join(f"{json.dumps(key, ensure_ascii=False)}:{encode(item)}" for key, item in value.items()) + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(encode(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def answer_errors(schema: dict[str, Any], response: Any, *, method: str, path: str) -> list[str]:
    """What is wrong with an answer, measured by the schema's response for its status."""
    documented = schema["paths"][path][method]["responses"]
    status = str(response.status_code)
    if status not in documented:
        return [f"status {status} is not documented"]
    if response["Content-Type"] != "application/json":
        return [f"Content-Type {response['Content-Type']}"]
    body_schema = documented[status]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({"components": schema["components"], **body_schema})
    return [error.message for error in validator.iter_errors(json.loads(response.content))]
