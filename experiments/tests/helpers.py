"""Helpers for the experiments tests: posting like a browser, counting rows, writing exposures."""

from __future__ import annotations

from typing import Any

import orjson
from django.test import Client

from experiments.models import Assignment, Conversion, Experiment, Variant


def post_text(client: Client, url: str, payload: Any, **headers: str):
    """POST a JSON body as text/plain, the way sendBeacon and CORS-simple fetch send it."""
    body = payload if isinstance(payload, (bytes, str)) else orjson.dumps(payload)
    return client.post(url, data=body, content_type="text/plain", headers=headers)


def stored_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Experiment, Variant, Assignment, Conversion)}


def expose(
    experiment: Experiment,
    variant_key: str,
    *,
    count: int,
    converted: int = 0,
    goal: str = "signup",
    prefix: str = "",
) -> list[str]:
    """Write `count` exposures to one variant, the first `converted` of them converted on `goal`."""
    variant = experiment.variants.get(key=variant_key)
    anon_ids = [f"{prefix}{variant_key}-{index}" for index in range(count)]
    Assignment.objects.bulk_create(
        Assignment(project_id=experiment.project_id, experiment=experiment, variant=variant, anon_id=anon_id)
        for anon_id in anon_ids
    )
    Conversion.objects.bulk_create(
        Conversion(project_id=experiment.project_id, experiment=experiment, anon_id=anon_id, goal=goal)
        for anon_id in anon_ids[:converted]
    )
    return anon_ids
