"""Property-based: any JSON in any field of a batch never answers 5xx and loses no good item.

Arbitrary JSON values (analytics/tests/fuzzing.py) go into every field of the envelope, the
session, the events and the samples, next to known-good items, through the real view to
Postgres. The answer must be one the schema documents, and every good item of an accepted
batch must be in the database; a refused batch must store nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from analytics.tests.fuzzing import FUZZ_SETTINGS, answer_errors, encode, json_values, mostly
from ingest.models import Event, MovementSample, Session

pytestmark = pytest.mark.django_db

EVENT = {"id": "fuzz", "type": "fuzz", "path": "/fuzz", "ts": 1_700_000_000_000, "props": {"k": "v"}}
SAMPLE = {"ts": 1_700_000_000_000, "x": 1, "y": 2, "kind": "move", "path": "/fuzz", "vw": 800, "vh": 600}
SESSION = {"referrer": "https://search.example/", "language": "en", "screen": {"w": 1440, "h": 900}}


class Good:
    """Stands for a known-good item (or session, key, batchId), made unique per example."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"Good({self.kind!r})"


GOOD_EVENT, GOOD_SAMPLE = Good("event"), Good("sample")
GOOD_SESSION, GOOD_KEY, GOOD_BATCH_ID = Good("session"), Good("key"), Good("batchId")
ABSENT = Good("absent")


def fuzzed(template: dict[str, Any]) -> st.SearchStrategy:
    """An item like `template` with some fields set to arbitrary JSON, some removed, an extra
    one perhaps; or an arbitrary JSON value instead of an item."""
    fields = [*template, "extra"]
    changed = st.builds(
        lambda overrides, removed: {k: v for k, v in {**template, **overrides}.items() if k not in removed},
        st.dictionaries(st.sampled_from(fields), json_values, min_size=1, max_size=3),
        st.sets(st.sampled_from(list(template)), max_size=2),
    )
    return changed | json_values


items = st.lists(st.just(GOOD_EVENT) | fuzzed(EVENT), max_size=6)
samples = st.lists(st.just(GOOD_SAMPLE) | fuzzed(SAMPLE), max_size=6)


class Batch:
    """A body built from drawn parts, with the ids of its good items (fresh ones each time)."""

    def __init__(self, tenant) -> None:
        self.tenant = tenant
        self.token = uuid.uuid4().hex
        self.good_events: dict[int, str] = {}
        self.good_samples: dict[int, str] = {}
        self.session_id: str | None = None

    def fill(self, value: Any, *, index: int | None = None) -> Any:
        if value is GOOD_EVENT:
            self.good_events[index] = f"good-{self.token}-{index}"
            return {"id": self.good_events[index], "type": "good", "path": "/good", "props": {"index": index}}
        if value is GOOD_SAMPLE:
            self.good_samples[index] = f"/good/{self.token}/{index}"
            return {"x": 3, "y": 4, "kind": "click", "path": self.good_samples[index]}
        if value is GOOD_SESSION:
            self.session_id = f"s-{self.token}"
            return {"sessionId": self.session_id, "anonId": f"a-{self.token}", **SESSION}
        if value is GOOD_KEY:
            return self.tenant.key
        if value is GOOD_BATCH_ID:
            return f"b-{self.token}"
        return value

    def body(self, envelope: dict[str, Any]) -> bytes:
        filled = {}
        for name, value in envelope.items():
            if value is ABSENT:
                continue
            if name in ("events", "movement") and isinstance(value, list):
                value = [self.fill(item, index=index) for index, item in enumerate(value)]
            filled[name] = self.fill(value)
        return encode(filled).encode()

    def stored_items(self) -> tuple[int, int]:
        """How many of the good events and samples are in the database, as they were sent."""
        index_of = {client_id: index for index, client_id in self.good_events.items()}
        events = Event.objects.filter(
            project=self.tenant.project, client_id__in=index_of, type="good", path="/good"
        ).values_list("client_id", "props")
        samples = MovementSample.objects.filter(
            project=self.tenant.project, path__in=self.good_samples.values(), x=3, y=4, kind="click"
        )
        return sum(props == {"index": index_of[client_id]} for client_id, props in events), samples.count()


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        return Client().get("/v1/schema").json()


@pytest.fixture
def post(client, settings, schema):
    settings.RATE_LIMIT_PER_MIN = 0  # hundreds of requests from one address and key

    def send(body: bytes):
        response = client.post("/v1/ingest", data=body, content_type="text/plain;charset=UTF-8")
        assert response.status_code < 500, response.content
        assert answer_errors(schema, response, method="post", path="/v1/ingest") == []
        event(f"ingest {response.status_code}")
        return response

    return send


@FUZZ_SETTINGS
@given(events=items, movement=samples, extra=json_values)
def test_any_json_in_any_item_field_loses_no_good_item(post, tenant, events, movement, extra):
    batch = Batch(tenant)
    response = post(
        batch.body(
            {"apiKey": GOOD_KEY, "session": GOOD_SESSION, "events": events, "movement": movement, "extra": extra}
        )
    )
    assert response.status_code == 202
    answer = response.json()
    rejected = [(item["kind"], item["index"]) for item in answer["rejected"]]
    assert answer["rejectedCount"] == len(rejected)
    assert not {("event", index) for index in batch.good_events} & set(rejected)
    assert not {("movement", index) for index in batch.good_samples} & set(rejected)
    rejected_events = sum(kind == "event" for kind, _ in rejected)
    assert answer["accepted"]["events"] + answer["duplicates"] + rejected_events == len(events)
    assert answer["accepted"]["movement"] + len(rejected) - rejected_events == len(movement)
    assert batch.stored_items() == (len(batch.good_events), len(batch.good_samples))


# A session with some of its fields set to anything, screen sizes included.
odd_sessions = st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys(["sessionId", "anonId", "referrer", "language", "extra"], json_values),
        "screen": json_values | st.fixed_dictionaries({"w": json_values, "h": json_values}),
    },
).map(lambda fields: {"sessionId": "fuzz-session", "anonId": "fuzz-anon", **SESSION, **fields})
# A batchId that is a string is made unique (GOOD_BATCH_ID), or a later example would be
# taken for a retry of an earlier one and store nothing.
odd_batch_ids = json_values.filter(lambda value: not isinstance(value, str)) | st.sampled_from(
    ["", "x" * 129, "a\x00b"]
)
envelopes = st.fixed_dictionaries(
    {
        "apiKey": mostly(st.just(GOOD_KEY), json_values | st.sampled_from(["", "ak_" + "u" * 30]), out_of=6),
        "sentAt": mostly(st.sampled_from([ABSENT, 1_700_000_000_000]), json_values),
        "batchId": mostly(st.sampled_from([ABSENT, GOOD_BATCH_ID]), odd_batch_ids),
        "session": mostly(st.just(GOOD_SESSION), odd_sessions | json_values, out_of=3),
        "events": mostly(items | st.just(ABSENT), json_values),
        "movement": mostly(samples | st.just(ABSENT), json_values),
    },
    optional=dict.fromkeys(["extra", "Events", "apikey"], json_values),
)


@FUZZ_SETTINGS
@given(envelope=envelopes, whole=mostly(st.none(), json_values, out_of=5))
def test_any_json_in_the_envelope_is_answered_in_the_contract_shape(post, tenant, envelope, whole):
    batch = Batch(tenant)
    # Now and then the body is one arbitrary value instead.
    response = post(batch.body(envelope) if whole is None else encode(whole).encode())
    stored_events, stored_samples = batch.stored_items()
    if response.status_code == 202:
        assert (stored_events, stored_samples) == (len(batch.good_events), len(batch.good_samples))
    else:
        assert response.status_code in (400, 401)
        assert (stored_events, stored_samples) == (0, 0)
        if batch.session_id is not None:
            assert not Session.objects.filter(project=tenant.project, session_id=batch.session_id).exists()
