"""schemathesis hooks: real ids and keys in some of the generated requests.

Random strings alone would only ever reach the 401 and 404 answers; mixing in the valid
browser key, the fuzzed project's id and its experiment's key lets requests get past
authentication and lookups into the code behind them. A value is swapped only where the
generated one is schema-valid too, so a case generated to break the schema still breaks it.
Loaded through SCHEMATHESIS_HOOKS; the ids come from the JSON file FUZZ_FIXTURES that
fuzz/run.py writes.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import schemathesis
from hypothesis import strategies as st


@cache
def fixtures() -> dict[str, Any]:
    with open(os.environ["FUZZ_FIXTURES"]) as file:
        return json.load(file)


def _text(value: Any, *, max_length: int = 10**6) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= max_length and "\x00" not in value


def _mostly_real(container: Any, name: str, real: Any, *, valid) -> st.SearchStrategy:
    """The container as generated, or (three times out of four) with `name` set to `real`."""
    if not isinstance(container, dict) or name not in container or not valid(container[name]):
        return st.just(container)
    swapped = {**container, name: real}
    return st.sampled_from([swapped, swapped, swapped, container])


def _weighable(variants: Any) -> bool:
    return isinstance(variants, list) and all(
        isinstance(entry, dict) and type(entry.get("weight")) is int and 0 <= entry["weight"] <= 100
        for entry in variants
    )


def _adding_up(body: dict[str, Any]) -> st.SearchStrategy:
    """Weights that add up to 100 (all on the control), which random ones almost never do."""
    variants = body["variants"]
    if not _weighable(variants):  # what another operation's body calls `variants`, say null
        return st.just(body)
    weighted = [{**entry, "weight": 100 if index == 0 else 0} for index, entry in enumerate(variants)]
    return _mostly_real(body, "variants", weighted, valid=_weighable)


def _changes_a_project(ctx: schemathesis.HookContext) -> bool:
    operation = ctx.operation
    return operation is not None and operation.method.upper() == "PATCH" and operation.path == "/projects/{project_id}"


@schemathesis.hook
def flatmap_body(ctx: schemathesis.HookContext, body: Any) -> st.SearchStrategy:
    if _changes_a_project(ctx) and isinstance(body, dict) and "origins" in body:
        # The fuzzed project keeps its origins: with others, every public request sent from
        # its origin would stop at 403 for the rest of the run.
        return st.just({**body, "origins": fixtures()["origins"]})
    if isinstance(body, dict) and "apiKey" in body:
        return _mostly_real(body, "apiKey", fixtures()["apiKey"], valid=lambda value: isinstance(value, str))
    real_project = _mostly_real(
        body, "projectId", fixtures()["projectId"], valid=lambda value: _text(value, max_length=64)
    )
    if isinstance(body, dict) and "variants" in body:
        return real_project.flatmap(_adding_up)
    return real_project


@schemathesis.hook
def flatmap_path_parameters(ctx: schemathesis.HookContext, parameters: Any) -> st.SearchStrategy:
    if not isinstance(parameters, dict):
        return st.just(parameters)
    if "project_id" in parameters and "key" in parameters:
        # Only the spare keys are ever revoked: the one the public requests use must stay valid.
        real = {"project_id": fixtures()["projectId"]}
        return st.sampled_from([parameters, *({**real, "key": key} for key in fixtures()["spareKeys"])])
    if "project_id" in parameters and "anon_id" in parameters:
        # A visitor with data, so hand-over and erasure reach past the lookup (the first
        # erasure of each leaves the others' zeros to the repeats).
        real = {"project_id": fixtures()["projectId"]}
        visitors = [{**real, "anon_id": anon_id} for anon_id in fixtures()["anonIds"]]
        return st.sampled_from([parameters, {**parameters, **real}, *visitors])
    if "project_id" in parameters:
        return _mostly_real(parameters, "project_id", fixtures()["projectId"], valid=_text)
    return _mostly_real(parameters, "key", fixtures()["experimentKey"], valid=_text)


@schemathesis.hook
def flatmap_query(ctx: schemathesis.HookContext, query: Any) -> st.SearchStrategy:
    return _mostly_real(query, "projectId", fixtures()["projectId"], valid=_text)
