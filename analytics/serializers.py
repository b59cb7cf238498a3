"""Answer shapes: each /v1 answer's JSON is declared once, as a serializer, and both the
answer and its OpenAPI schema come from that declaration.

A view renders its answer with `Shape.render(instance)`. drf-spectacular describes the same
class: the admin views name it in `admin_operation`, the plain views in their app's
openapi.py PATHS. Shapes only ever write: nothing is validated through them, and the
rendering instance is built once per class, so an answer costs a walk over its fields and
no more (the public endpoints render theirs on every request).
"""

from __future__ import annotations

import functools
import keyword
from collections.abc import Callable
from datetime import UTC
from functools import cached_property
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField


class ResponseShape(serializers.Serializer):
    """An answer's JSON, key by key in order; the schema lists exactly these keys.

    A JSON key that is a Python keyword is declared with a trailing underscore (`from_`).
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {_json_name(name): field for name, field in super().get_fields().items()}

    @classmethod
    def render(cls, instance: Any) -> dict[str, Any]:
        return _renderer(cls).to_representation(instance)

    @cached_property
    def _plan(self) -> list[tuple[str, Callable[[Any], Any], Callable[[Any], Any]]]:
        return [(name, _getter(field), _representer(field)) for name, field in self.fields.items()]

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # DRF's own loop, over a list of bound methods made once: DRF's walks a generator of
        # the fields and looks every method up again, which made the ingest answer cost 8
        # times what building its dict did.
        answer = {}
        for name, get, represent in self._plan:
            try:
                value = get(instance)
            except SkipField:
                continue
            answer[name] = None if value is None else represent(value)
        return answer


def _json_name(name: str) -> str:
    bare = name.removesuffix("_")
    return bare if bare != name and keyword.iskeyword(bare) else name


# DRF's to_representation of these fields is exactly the builtin, called without a frame.
_BUILTIN_REPRESENTATIONS = {
    serializers.CharField.to_representation: str,
    serializers.IntegerField.to_representation: int,
    serializers.FloatField.to_representation: float,
}


def _representer(field: serializers.Field) -> Callable[[Any], Any]:
    return _BUILTIN_REPRESENTATIONS.get(type(field).to_representation, field.to_representation)


def _getter(field: serializers.Field) -> Callable[[Any], Any]:
    """field.get_attribute, with a shortcut for a plain path of keys and attributes.

    Anything unusual on the way (a missing key, a callable, a mapping that is not a dict)
    takes DRF's own get_attribute, which knows what the field does then (default, null,
    left out, called).
    """
    drf_get = field.get_attribute
    rule = type(field).get_attribute
    omits_empty = rule is OmittedWhenEmpty.get_attribute
    if rule is not serializers.Field.get_attribute and not omits_empty:
        return drf_get  # a field with a rule of its own
    path = tuple(field.source_attrs)

    def get(instance: Any) -> Any:
        value = instance
        try:
            for step in path:
                value = value[step] if type(value) is dict else getattr(value, step)
                if callable(value):
                    return drf_get(instance)
        except (KeyError, AttributeError, ObjectDoesNotExist):
            return drf_get(instance)
        if omits_empty and _is_empty(value):
            raise SkipField
        return value

    return get


@functools.cache
def _renderer(shape: type[ResponseShape]) -> ResponseShape:
    # Bound fields are deep-copied from the declaration on a serializer's first use; doing that
    # once per class rather than per answer is what keeps rendering cheap. Rendering reads the
    # instance only, so one serializer serves every thread.
    return shape()


class Verbatim(serializers.Field):
    """A list whose items were built in their answer's form already, passed on as they are;
    the schema describes each item with `shape`. A test renders the items through `shape`
    and finds them unchanged, which keeps the builder and the shape in step."""

    def __init__(self, shape: type[ResponseShape], **kwargs: Any) -> None:
        self.shape = shape
        super().__init__(**kwargs)

    def to_representation(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return items


class Timestamp(serializers.DateTimeField):
    """ISO 8601 in UTC with a Z, the API's timestamp format (see analytics.http.iso)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)


class Constant(serializers.Field):
    """A value that never changes, whatever the instance (`const` in the schema)."""

    def __init__(self, value: Any, **kwargs: Any) -> None:
        self.value = value
        super().__init__(source="*", **kwargs)

    def to_representation(self, instance: Any) -> Any:
        return self.value


class OmittedWhenEmpty:
    """Mixed into a field: its key is left out of the answer when the value is None or empty,
    rather than written as null (so the schema lists it as optional)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, required=False, **kwargs)

    def get_attribute(self, instance: Any) -> Any:
        value = super().get_attribute(instance)
        if _is_empty(value):
            raise SkipField
        return value


def _is_empty(value: Any) -> bool:
    return value is None or value in ("", {}, [])


class OptionalChoice(OmittedWhenEmpty, serializers.ChoiceField):
    pass


@extend_schema_field({"type": "object", "description": "More about the error, e.g. which field failed."})
class Details(OmittedWhenEmpty, serializers.JSONField):
    pass


class ErrorBody(ResponseShape):
    code = serializers.RegexField(r"^[a-z][a-z0-9_]*\Z", help_text="A stable snake_case code, e.g. invalid_field.")
    message = serializers.CharField(help_text="What went wrong and how to fix it.")
    details = Details()


class ErrorSerializer(ResponseShape):
    """Every error of the API has this shape."""

    error = ErrorBody(source="*")


class FailOpenSerializer(ResponseShape):
    """With deep=1: requests this server process let through without Redis, since it started."""

    rateLimit = serializers.IntegerField(min_value=0, help_text="Requests not rate limited.")
    keyCache = serializers.IntegerField(min_value=0, help_text="Key lookups that skipped the cache.")


class HealthChecks(ResponseShape):
    """With deep=1: each backing store checked."""

    database = Constant("ok")
    cache = Constant("ok")


class HealthSerializer(ResponseShape):
    status = Constant("ok")
    checks = HealthChecks(required=False)
    failOpen = FailOpenSerializer(required=False)
