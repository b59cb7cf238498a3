"""Answer shapes (analytics.serializers): rendered as DRF would render them, only cheaper."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rest_framework import serializers

from analytics.serializers import Constant, OmittedWhenEmpty, OptionalChoice, ResponseShape, Timestamp, Verbatim


class Note(OmittedWhenEmpty, serializers.CharField):
    pass


class Inner(ResponseShape):
    n = serializers.IntegerField()


class Shape(ResponseShape):
    from_ = Timestamp(source="start")
    name = serializers.CharField(source="owner.name")
    score = serializers.FloatField(allow_null=True)
    inner = Inner(source="*")
    items = Inner(many=True)
    kind = serializers.ChoiceField(choices=["a", "b"])
    fixed = Constant("UTC")
    note = Note()
    reason = OptionalChoice(choices=["x"])
    rows = Verbatim(Inner)


@dataclass
class Owner:
    name: str


@dataclass
class Thing:
    start: datetime
    owner: Owner
    score: float | None
    n: int
    items: list
    kind: str
    note: str | None
    reason: str | None
    rows: list


def thing(**changes) -> Thing:
    values = {
        "start": datetime(2025, 3, 10, 12, 30, tzinfo=UTC),
        "owner": Owner(name="ada"),
        "score": 0.5,
        "n": 3,
        "items": [{"n": 1}, {"n": 2}],
        "kind": "a",
        "note": "hello",
        "reason": None,
        "rows": [{"n": 1}],
    }
    return Thing(**{**values, **changes})


def drf_rendering(instance) -> dict:
    # What DRF's own Serializer.to_representation makes of the same declaration.
    return serializers.Serializer.to_representation(Shape(), instance)


@pytest.mark.parametrize(
    "instance",
    [
        thing(),
        thing(score=None, note="", reason="x", items=[]),
        thing(start=datetime(2025, 3, 10, 13, 30, 0, 5, tzinfo=timezone(timedelta(hours=1)))),
        {
            "start": datetime(2025, 3, 10, tzinfo=UTC),
            "owner": {"name": "bob"},
            "score": 1,
            "n": 0,
            "items": [],
            "kind": "b",
            "rows": [],
        },
    ],
)
def test_it_renders_what_drf_renders(instance):
    assert list(Shape.render(instance).items()) == list(drf_rendering(instance).items())


def test_keys_come_in_the_declared_order_with_keywords_unescaped():
    rendered = Shape.render(thing())
    assert list(rendered) == ["from", "name", "score", "inner", "items", "kind", "fixed", "note", "rows"]
    assert rendered["from"] == "2025-03-10T12:30:00Z"
    assert (rendered["inner"], rendered["items"], rendered["fixed"]) == ({"n": 3}, [{"n": 1}, {"n": 2}], "UTC")


def test_empty_optional_values_are_left_out_and_others_kept():
    rendered = Shape.render(thing(note=None, reason="x"))
    assert "note" not in rendered
    assert rendered["reason"] == "x"
    assert Shape.render(thing(score=None))["score"] is None


def test_timestamps_are_utc_with_a_z():
    moment = datetime(2025, 3, 10, 13, 30, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    assert Shape.render(thing(start=moment))["from"] == "2025-03-10T12:30:00.000005Z"


def test_one_rendering_serializer_serves_every_answer():
    first, second = Shape.render(thing(n=1)), Shape.render(thing(n=2))
    assert (first["inner"], second["inner"]) == ({"n": 1}, {"n": 2})


def test_a_missing_required_value_is_an_error_not_a_silent_gap():
    broken = thing()
    del broken.owner
    with pytest.raises(AttributeError):
        Shape.render(broken)
