"""Handing over what the service holds on one visitor: NDJSON, streamed."""

import orjson
import pytest

from projects.models import AuditEntry
from projects.services import subject_digest

pytestmark = pytest.mark.django_db


def lines(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response.streaming
    body = b"".join(response.streaming_content)
    return [orjson.loads(line) for line in body.splitlines()]


def test_it_hands_over_every_record_of_the_visitor_and_nothing_else(visitors, admin_api):
    records = lines(admin_api.get(f"/v1/projects/{visitors.project.id}/visitors/alice"))
    kinds = [record["kind"] for record in records]
    assert kinds == ["session"] * 2 + ["event"] * 4 + ["movement"] * 6 + ["assignment"] + ["conversion"] * 2
    sessions = [record for record in records if record["kind"] == "session"]
    assert {record["sessionId"] for record in sessions} == {"a1", "a2"}
    assert all(record["anonId"] == "alice" for record in sessions)
    events = [record for record in records if record["kind"] == "event"]
    assert [(event["type"], event["path"], event["sessionId"]) for event in events] == [
        ("page_view", "/", "a1"),
        ("signup", "/", "a1"),
        ("page_view", "/pricing", "a1"),
        ("page_view", "/", "a2"),
    ]
    assert events[0]["occurredAt"] == "2025-03-10T10:10:00Z" and events[0]["clientId"].startswith("a1-")
    assert {record["movementKind"] for record in records if record["kind"] == "movement"} == {"click"}
    assert {record["goal"] for record in records if record["kind"] == "conversion"} == {"buy", "signup"}
    assignment = next(record for record in records if record["kind"] == "assignment")
    assert assignment["experimentKey"] == "checkout" and assignment["variantKey"] in {"control", "b"}
    # Nothing of bob, nothing of the other project's alice, no internal ids.
    assert "bob" not in orjson.dumps(records).decode()
    assert not any("id" in record or "project" in record for record in records)


def test_an_unknown_or_erased_visitor_has_no_lines(visitors, admin_api):
    url = f"/v1/projects/{visitors.project.id}/visitors/alice"
    admin_api.delete(url)
    assert lines(admin_api.get(url)) == []
    assert lines(admin_api.get(f"/v1/projects/{visitors.project.id}/visitors/nobody")) == []


def test_the_hand_over_is_audited_without_the_anon_id(visitors, admin_api):
    lines(admin_api.get(f"/v1/projects/{visitors.project.id}/visitors/alice"))
    entry = AuditEntry.objects.get()
    assert entry.action == "hand_over"
    assert entry.subject_digest == subject_digest(project_id=visitors.project.id, anon_id="alice")


def test_it_needs_the_admin_key_and_a_known_project(visitors, client, admin_api):
    assert client.get(f"/v1/projects/{visitors.project.id}/visitors/alice").status_code == 401
    response = admin_api.get("/v1/projects/00000000-0000-0000-0000-000000000000/visitors/alice")
    assert response.status_code == 404 and response.json()["error"]["code"] == "project_not_found"
    assert not AuditEntry.objects.exists()
