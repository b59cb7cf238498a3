"""Property-based: any JSON in any field of an assign or convert body never answers 5xx.

Arbitrary JSON values (analytics/tests/fuzzing.py) in every field, next to good ones, posted
through the real views to Postgres. Every answer must be one the schema documents; a good
assign must expose the anonId, a good convert must be recorded or say why not.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from analytics.tests.fuzzing import FUZZ_SETTINGS, answer_errors, encode, json_values, mostly
from experiments.models import Assignment, Conversion

pytestmark = pytest.mark.django_db

GOOD, ABSENT = object(), object()


def field() -> st.SearchStrategy:
    """Mostly good, sometimes absent, sometimes anything."""
    return mostly(st.just(GOOD), st.just(ABSENT) | json_values, out_of=5)


bodies = st.fixed_dictionaries(
    {"apiKey": field(), "anonId": field(), "goal": field()},
    optional=dict.fromkeys(["extra", "anonid"], json_values),
)
# The experiment's key as the URL gives it: the real one, or any text (percent-encoded).
url_keys = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="/"), min_size=1, max_size=20).filter(
    lambda key: key not in (".", "..")
)
keys = mostly(st.just("checkout"), url_keys)


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        return Client().get("/v1/schema").json()


@pytest.fixture
def post(client, settings, schema, checkout):
    settings.RATE_LIMIT_PER_MIN = 0  # hundreds of requests from one address and key

    def send(key: str, action: str, body: bytes):
        template = f"/v1/experiments/{{key}}/{action}"
        response = client.post(
            f"/v1/experiments/{quote(key, safe='')}/{action}", data=body, content_type="text/plain;charset=UTF-8"
        )
        assert response.status_code < 500, response.content
        assert answer_errors(schema, response, method="post", path=template) == []
        event(f"{action} {response.status_code}")
        return response

    return send


def filled(body: dict, *, tenant, anon_id: str) -> bytes:
    good = {"apiKey": tenant.key, "anonId": anon_id, "goal": "signup"}
    return encode(
        {name: good[name] if value is GOOD else value for name, value in body.items() if value is not ABSENT}
    ).encode()


@FUZZ_SETTINGS
@given(key=keys, body=bodies, whole=mostly(st.none(), json_values, out_of=5))
def test_any_json_in_an_assign_body_is_answered_in_the_contract_shape(post, tenant, key, body, whole):
    anon_id = f"a-{uuid.uuid4().hex}"
    response = post(
        key, "assign", filled(body, tenant=tenant, anon_id=anon_id) if whole is None else encode(whole).encode()
    )
    exposed = Assignment.objects.filter(anon_id=anon_id)
    if key == "checkout" and whole is None and body["apiKey"] is body["anonId"] is GOOD:
        assert response.status_code == 200
        assert exposed.get().variant.key == response.json()["variantKey"]
    else:
        assert not exposed.exists()


@FUZZ_SETTINGS
@given(key=keys, body=bodies, exposed=st.booleans())
def test_any_json_in_a_convert_body_is_answered_in_the_contract_shape(post, tenant, key, body, exposed):
    anon_id = f"a-{uuid.uuid4().hex}"
    if exposed:
        post("checkout", "assign", encode({"apiKey": tenant.key, "anonId": anon_id}).encode())
    response = post(key, "convert", filled(body, tenant=tenant, anon_id=anon_id))
    recorded = Conversion.objects.filter(anon_id=anon_id).exists()
    if key == "checkout" and body["apiKey"] is body["anonId"] is body["goal"] is GOOD:
        expected = {"recorded": True} if exposed else {"recorded": False, "reason": "not_exposed"}
        assert (response.status_code, response.json(), recorded) == (200, expected, exposed)
    else:
        assert recorded is (response.json() == {"recorded": True})
