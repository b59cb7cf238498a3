"""A batch holds at most 1,000 events and 1,000 samples, and its answer stays small."""

import re

import pytest

from ingest import payload, sdk
from ingest.models import Event, MovementSample, Session
from ingest.tests.conftest import make_batch

pytestmark = pytest.mark.django_db


def stored() -> tuple[int, int, int]:
    return Session.objects.count(), Event.objects.count(), MovementSample.objects.count()


def test_a_full_batch_is_stored(send, tenant):
    response = send(make_batch(tenant.key, events=payload.MAX_EVENTS, movement=payload.MAX_MOVEMENT))
    assert response.status_code == 202
    assert response.json()["accepted"] == {"events": 1000, "movement": 1000}
    assert stored() == (1, 1000, 1000)


@pytest.mark.parametrize(("events", "movement", "field"), [(1001, 0, "events"), (0, 1001, "movement")])
def test_more_items_than_a_batch_holds_refuses_the_batch(send, tenant, events, movement, field):
    batch = make_batch(tenant.key, events=0, movement=0)
    # As small as items get, so that the body stays far below MAX_BODY_BYTES.
    batch["events"] = [{"type": "a"}] * events
    batch["movement"] = [{"x": 1, "y": 1, "kind": "move"}] * movement
    response = send(batch)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "too_many_items",
        "message": f"{field}: at most 1000 items in one batch; send the rest in another batch.",
        "details": {"field": field, "maximum": 1000},
    }
    assert stored() == (0, 0, 0)


def test_the_answer_lists_the_first_hundred_rejected_items_and_counts_them_all(send, tenant):
    batch = make_batch(tenant.key, events=0, movement=0)
    batch["events"] = [{"type": ""}] * 700 + [{"type": "ok"}]
    batch["movement"] = [{"x": -1, "y": 1, "kind": "move"}] * 900
    response = send(batch)
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == {"events": 1, "movement": 0}
    assert body["rejectedCount"] == 1600
    assert body["rejected"] == [
        {"kind": "event", "index": index, "reason": "type: must be a non-empty string"} for index in range(100)
    ]
    assert len(response.content) < 10_000
    assert stored() == (1, 1, 0)


def test_the_sdk_never_puts_more_items_in_a_batch_than_one_holds():
    # The SDK flushes its buffer at FLUSH_AT_ITEMS items (events and samples together) and
    # packs each flush into batches: no batch it sends can be refused as too large.
    source = sdk.SOURCE.decode()
    flush_at = int(re.search(r"const FLUSH_AT_ITEMS = (\d+);", source)[1])
    assert "if (buffer.events.length + buffer.movement.length >= FLUSH_AT_ITEMS) flush();" in source
    assert flush_at <= min(payload.MAX_EVENTS, payload.MAX_MOVEMENT)
