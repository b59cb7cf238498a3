"""The answer to POST /v1/ingest is its declared shape (ingest/serializers.py)."""

import pytest

from ingest.serializers import IngestRejectionSerializer, IngestResultSerializer
from ingest.tests.conftest import make_batch

pytestmark = pytest.mark.django_db


def test_the_rejections_passed_on_as_built_are_in_their_shape(send, tenant):
    # The answer passes the payload checks' rejection entries on without rendering them one
    # by one: they must already be exactly what their shape renders.
    batch = make_batch(tenant.key, events=1, movement=1)
    batch["events"] += [{"type": ""}, "not an object"]
    batch["movement"].append({"x": 1, "y": 2, "kind": "wiggle"})
    response = send(batch)
    assert response.status_code == 202
    rejected = response.json()["rejected"]
    assert [(item["kind"], item["index"]) for item in rejected] == [("event", 1), ("event", 2), ("movement", 1)]
    for item in rejected:
        assert list(IngestRejectionSerializer.render(item).items()) == list(item.items())


def test_the_answer_has_the_keys_of_its_shape_in_order(send, tenant):
    response = send(make_batch(tenant.key, events=2, movement=1))
    assert response.status_code == 202
    # `filtered` is there only when the batch came from a bot (ingest/tests/test_bots.py).
    assert list(response.json()) == [name for name in IngestResultSerializer().fields if name != "filtered"]
    assert response.content.startswith(b'{"accepted":{"events":2,"movement":1},"duplicates":0,"rejected":[]')
