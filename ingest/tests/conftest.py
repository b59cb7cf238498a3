import itertools
import uuid

import orjson
import pytest

_counter = itertools.count()


def make_batch(key: str, *, events: int = 2, movement: int = 3, session_id: str | None = None, **extra) -> dict:
    """A well-formed batch with unique event ids, as the browser SDK sends it."""
    n = next(_counter)
    return {
        "apiKey": key,
        "session": {
            "sessionId": session_id or f"s{n}",
            "anonId": f"a{n}",
            "referrer": "https://search.example/",
            "language": "en-GB",
            "screen": {"w": 1440, "h": 900},
        },
        "events": [
            {"id": str(uuid.uuid4()), "type": "page_view", "path": f"/p{i}", "props": {"i": i}} for i in range(events)
        ],
        "movement": [
            {"x": 10 * i, "y": 20 * i, "kind": "move", "path": "/", "vw": 1440, "vh": 900} for i in range(movement)
        ],
        **extra,
    }


@pytest.fixture
def send(client):
    """POST a body to /v1/ingest as sendBeacon does (text/plain); dicts are JSON-encoded."""

    def post(body, **meta):
        data = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
        return client.post("/v1/ingest", data=data, content_type="text/plain;charset=UTF-8", **meta)

    return post
