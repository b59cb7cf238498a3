import json
import uuid
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.db import connection

from ingest.models import Event, EventKey, MovementSample, Session
from ingest.tests.conftest import make_batch

pytestmark = pytest.mark.django_db


def stored() -> tuple[int, int, int]:
    return Session.objects.count(), Event.objects.count(), MovementSample.objects.count()


def test_it_stores_the_seed_smoke_test_batch(send, tenant):
    response = send(
        '{"apiKey":"KEY","session":{"sessionId":"s1","anonId":"a1"},'
        '"events":[{"type":"page_view","path":"/"}],"movement":[]}'.replace("KEY", tenant.key)
    )
    assert response.status_code == 202
    assert response.json() == {
        "accepted": {"events": 1, "movement": 0},
        "duplicates": 0,
        "rejected": [],
        "rejectedCount": 0,
    }
    event = Event.objects.get()
    assert (event.type, event.path, event.client_id) == ("page_view", "/", None)
    assert event.project_id == tenant.project.id
    session = Session.objects.get()
    assert (session.session_id, session.anon_id) == ("s1", "a1")


def test_it_stores_events_movement_and_the_session(send, tenant):
    response = send(make_batch(tenant.key, events=3, movement=4), HTTP_USER_AGENT="Mozilla/5.0 test")
    assert response.status_code == 202
    assert response.json()["accepted"] == {"events": 3, "movement": 4}
    session = Session.objects.get()
    assert session.project_id == tenant.project.id
    assert (session.referrer, session.language, session.screen_width, session.screen_height) == (
        "https://search.example/",
        "en-GB",
        1440,
        900,
    )
    assert session.user_agent == "Mozilla/5.0 test"
    assert set(Event.objects.values_list("session_id", flat=True)) == {session.pk}
    assert Event.objects.get(path="/p2").props == {"i": 2}
    sample = MovementSample.objects.get(x=30)
    assert (sample.y, sample.kind, sample.viewport_width, sample.session_id) == (60, "move", 1440, session.pk)


def test_a_retried_batch_is_stored_once(send, tenant):
    batch = make_batch(tenant.key, events=5, movement=0)
    first = send(batch)
    again = send(batch)
    assert first.json()["accepted"]["events"] == 5
    assert again.status_code == 202
    assert again.json()["accepted"]["events"] == 0
    assert again.json()["duplicates"] == 5
    assert Event.objects.count() == 5


def test_a_repeated_id_inside_one_batch_counts_as_a_duplicate(send, tenant):
    batch = make_batch(tenant.key, events=0, movement=0)
    batch["events"] = [{"id": "same", "type": "a"}, {"id": "same", "type": "b"}, {"type": "c"}]
    response = send(batch)
    assert response.json()["accepted"]["events"] == 2
    assert response.json()["duplicates"] == 1
    assert sorted(Event.objects.values_list("type", flat=True)) == ["a", "c"]


def test_the_same_event_id_in_two_projects_is_two_events(send, tenant, other_tenant):
    event = {"id": "shared-id", "type": "page_view"}
    for key in (tenant.key, other_tenant.key):
        batch = make_batch(key, events=0, movement=0)
        batch["events"] = [event]
        assert send(batch).json()["accepted"]["events"] == 1
    assert EventKey.objects.count() == 2


def test_the_session_is_created_once_and_its_last_seen_moves_forward(send, tenant):
    send(make_batch(tenant.key, session_id="s-1"))
    first = Session.objects.get()
    send(make_batch(tenant.key, session_id="s-1"))
    later = Session.objects.get()
    assert later.pk == first.pk
    assert later.first_seen_at == first.first_seen_at
    assert later.last_seen_at > first.last_seen_at


def test_sessions_of_two_projects_with_the_same_id_stay_apart(send, tenant, other_tenant):
    send(make_batch(tenant.key, session_id="s-1"))
    send(make_batch(other_tenant.key, session_id="s-1"))
    assert Session.objects.filter(session_id="s-1").count() == 2
    for tenant_ in (tenant, other_tenant):
        session = Session.objects.get(project=tenant_.project)
        assert set(Event.objects.filter(session_id=session.pk).values_list("project_id", flat=True)) == {
            tenant_.project.id
        }


def test_it_corrects_client_clock_skew_from_sent_at(send, tenant):
    batch = make_batch(tenant.key, events=0, movement=0)
    # The client's clock runs one hour behind the server's.
    client_now = 1_700_000_000_000
    batch["sentAt"] = client_now
    batch["events"] = [{"type": "a", "ts": client_now - 5_000}]
    batch["movement"] = [{"ts": client_now - 2_000, "x": 1, "y": 1, "kind": "click"}]
    response = send(batch)
    assert response.status_code == 202
    event = Event.objects.get()
    assert abs((event.received_at - event.occurred_at).total_seconds() - 5) < 1
    sample = MovementSample.objects.get()
    assert abs((event.received_at - sample.occurred_at).total_seconds() - 2) < 1


def test_item_times_keep_their_sub_millisecond_part(send, tenant):
    batch = make_batch(tenant.key, events=0, movement=0)
    batch.pop("sentAt", None)
    batch["events"] = [{"type": "a", "ts": 1_700_000_000_123.456}]
    batch["movement"] = [{"ts": 1_700_000_000_000.5, "x": 1, "y": 1, "kind": "click"}]
    assert send(batch).status_code == 202
    assert Event.objects.get().occurred_at == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    assert MovementSample.objects.get().occurred_at == datetime(2023, 11, 14, 22, 13, 20, 500, tzinfo=UTC)


def test_an_event_without_ts_happened_now(send, tenant):
    batch = make_batch(tenant.key, events=1, movement=0)
    send(batch)
    event = Event.objects.get()
    assert event.occurred_at == event.received_at


def test_a_future_timestamp_is_clamped_to_now(send, tenant):
    batch = make_batch(tenant.key, events=0, movement=0)
    batch["events"] = [{"type": "a", "ts": 4_000_000_000_000}]
    send(batch)
    event = Event.objects.get()
    assert event.occurred_at == event.received_at


def test_a_bad_item_is_dropped_and_reported_while_the_rest_is_stored(send, tenant):
    batch = make_batch(tenant.key, events=0, movement=0)
    batch["events"] = [
        {"type": "ok"},
        {"type": ""},
        "not an object",
        {"type": "x" * 65},
        {"type": "p", "props": [1]},
        {"type": "p", "props": {"big": "x" * 9000}},
        {"type": "n", "path": "/a\u0000b"},
        {"type": "n", "props": {"k": "v\u0000"}},
        {"type": "t", "ts": "yesterday"},
        {"type": "t", "ts": 12},
        {"type": "i", "id": 42},
        {"type": "ok", "path": "/naïve/ünïcødé/😀"},
    ]
    batch["movement"] = [
        {"x": 1, "y": 2, "kind": "click"},
        {"x": 1, "y": 2, "kind": "wiggle"},
        {"x": -1, "y": 2, "kind": "move"},
        {"x": 1e300, "y": 2, "kind": "move"},
        {"x": True, "y": 2, "kind": "move"},
        {"x": 1, "y": 2, "kind": "scroll", "vw": "wide"},
    ]
    response = send(batch)
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == {"events": 2, "movement": 1}
    rejected = {(item["kind"], item["index"]): item["reason"] for item in body["rejected"]}
    assert sorted(index for kind, index in rejected if kind == "event") == list(range(1, 11))
    assert sorted(index for kind, index in rejected if kind == "movement") == [1, 2, 3, 4, 5]
    assert rejected[("event", 3)] == "type: must be at most 64 characters"
    assert rejected[("event", 6)] == "path: must not contain NUL characters"
    assert rejected[("movement", 1)] == "kind: must be one of move, click, scroll"
    assert sorted(Event.objects.values_list("path", flat=True)) == ["", "/naïve/ünïcødé/😀"]
    assert MovementSample.objects.get().kind == "click"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{nope", "invalid_json"),
        ("[]", "invalid_body"),
        ('"a string"', "invalid_body"),
        ("", "invalid_json"),
        ('{"apiKey": NaN}', "invalid_json"),
        ('{"apiKey": Infinity}', "invalid_json"),
        (b'{"apiKey": "\xff"}', "invalid_json"),
    ],
)
def test_it_refuses_a_malformed_body(send, tenant, body, code):
    response = send(body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert stored() == (0, 0, 0)


def broken(key: str, change) -> dict:
    batch = make_batch(key)
    change(batch)
    return batch


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("session"), "session"),
        (lambda b: b.update(session="s1"), "session"),
        (lambda b: b["session"].pop("sessionId"), "session.sessionId"),
        (lambda b: b["session"].update(sessionId=""), "session.sessionId"),
        (lambda b: b["session"].update(sessionId=12), "session.sessionId"),
        (lambda b: b["session"].update(anonId="a" * 129), "session.anonId"),
        (lambda b: b["session"].update(anonId="a\u0000"), "session.anonId"),
        (lambda b: b["session"].update(referrer="r" * 2049), "session.referrer"),
        (lambda b: b["session"].update(screen=[1, 2]), "session.screen"),
        (lambda b: b["session"].update(screen={"w": -5}), "session.screen.w"),
        (lambda b: b.update(events={"type": "page_view"}), "events"),
        (lambda b: b.update(movement="none"), "movement"),
        (lambda b: b.update(sentAt="now"), "sentAt"),
        (lambda b: b.update(sentAt=1e300), "sentAt"),
    ],
)
def test_it_refuses_a_bad_envelope_and_stores_nothing(send, tenant, change, field):
    response = send(broken(tenant.key, change))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_field"
    assert error["details"]["field"] == field
    assert stored() == (0, 0, 0)


def test_events_and_movement_may_be_absent(send, tenant):
    batch = make_batch(tenant.key)
    del batch["events"], batch["movement"]
    response = send(batch)
    assert response.status_code == 202
    assert response.json()["accepted"] == {"events": 0, "movement": 0}
    assert stored() == (1, 0, 0)


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "missing_api_key"),
        ("", "missing_api_key"),
        (5, "missing_api_key"),
        ("ak_unknown", "invalid_api_key"),
    ],
)
def test_it_refuses_a_missing_or_unknown_key(send, tenant, key, code):
    batch = make_batch(tenant.key)
    batch["apiKey"] = key
    response = send(batch)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert stored() == (0, 0, 0)


def test_it_refuses_a_revoked_key(send, revoked_key):
    response = send(make_batch(revoked_key))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert stored() == (0, 0, 0)


def test_an_allowed_origin_gets_the_cors_header(send, tenant):
    response = send(make_batch(tenant.key), HTTP_ORIGIN="https://SHOP.example:443")
    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] == "https://SHOP.example:443"


@pytest.mark.parametrize("origin", ["https://evil.example", "https://shop.example:8443", "http://shop.example", "null"])
def test_it_refuses_an_origin_the_project_does_not_list(send, tenant, origin):
    response = send(make_batch(tenant.key), HTTP_ORIGIN=origin)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    # Readable by the page, so the SDK drops the batch instead of retrying it.
    assert response["Access-Control-Allow-Origin"] == origin
    assert stored() == (0, 0, 0)


def test_a_key_only_works_from_its_own_projects_origins(send, tenant, other_tenant):
    response = send(make_batch(other_tenant.key), HTTP_ORIGIN=tenant.origin)
    assert response.status_code == 403
    assert stored() == (0, 0, 0)


def test_it_answers_the_preflight(client, tenant):
    response = client.options(
        "/v1/ingest",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_admin_endpoints_get_no_cors_headers(client):
    response = client.options(
        "/v1/projects", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in response


def test_it_refuses_a_body_one_byte_over_the_cap(send, tenant, settings):
    body = json.dumps(make_batch(tenant.key))
    settings.MAX_BODY_BYTES = len(body) - 1
    response = send(body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    settings.MAX_BODY_BYTES = len(body)
    assert send(body).status_code == 202


def test_it_rate_limits_per_key_and_client_address(send, tenant, other_tenant, settings):
    settings.RATE_LIMIT_PER_MIN = 3
    for _ in range(3):
        assert send(make_batch(tenant.key)).status_code == 202
    limited = send(make_batch(tenant.key))
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert Event.objects.count() == 6
    assert send(make_batch(other_tenant.key)).status_code == 202
    assert send(make_batch(tenant.key), REMOTE_ADDR="10.1.1.1").status_code == 202


@pytest.mark.parametrize("api_key", ["ak_\x00" + "a" * 30, "ak_" + "a" * 30 + "\x00", "ak_a b", "ak_é" + "a" * 30])
def test_a_key_that_cannot_exist_is_refused_without_a_query(send, db, api_key, django_assert_num_queries):
    # Found by fuzzing: a NUL character reached Postgres, and its refusal was answered as a 503.
    with django_assert_num_queries(0):
        response = send(make_batch(api_key))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_it_fails_open_when_the_rate_limiter_is_down(send, tenant, settings, monkeypatch):
    from analytics import degraded

    def unreachable(*args, **kwargs):
        raise ConnectionError("redis is gone")

    settings.RATE_LIMIT_PER_MIN = 1
    monkeypatch.setattr("analytics.ratelimit._count_and_read", unreachable)
    before = degraded.counts()
    batch = make_batch(tenant.key)
    for _ in range(3):
        assert send(batch).status_code == 202
    after = degraded.counts()
    # The key's cached project is read in the same failed round trip: looked up in the database.
    assert (after["rateLimit"], after["keyCache"]) == (before["rateLimit"] + 3, before["keyCache"] + 3)
    assert Event.objects.count() == len(batch["events"])  # the same ids, stored once


@pytest.mark.skipif(not hasattr(cache, "client"), reason="counts calls to a real Redis: needs redis-server installed")
def test_a_batch_costs_one_redis_round_trip(send, tenant, monkeypatch):
    from redis.client import Pipeline, Redis

    calls = []
    real_command, real_pipeline = Redis.execute_command, Pipeline.execute
    monkeypatch.setattr(Redis, "execute_command", lambda *a, **k: calls.append("command") or real_command(*a, **k))
    monkeypatch.setattr(Pipeline, "execute", lambda *a, **k: calls.append("pipeline") or real_pipeline(*a, **k))
    send(make_batch(tenant.key))  # the first one caches the key's project
    calls.clear()
    assert send(make_batch(tenant.key)).status_code == 202
    assert calls == ["pipeline"]


def test_the_key_cache_is_used_with_the_rate_limit_off(send, tenant, settings, django_assert_num_queries):
    settings.RATE_LIMIT_PER_MIN = 0
    assert send(make_batch(tenant.key)).status_code == 202
    with django_assert_num_queries(1):  # the batch's statement, no key lookup in the database
        assert send(make_batch(tenant.key)).status_code == 202


def test_it_answers_503_when_the_database_is_down(send, tenant, monkeypatch):
    from django.db import OperationalError

    def down(**kwargs):
        raise OperationalError("could not connect")

    monkeypatch.setattr("ingest.services.store", down)
    response = send(make_batch(tenant.key))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "database_unavailable"


def test_nothing_is_stored_when_a_write_fails_halfway(send, tenant):
    from django.db import OperationalError

    def fail_on_movement(execute, sql, params, many, context):
        if MovementSample._meta.db_table in sql:
            raise OperationalError("disk full")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_on_movement):
        response = send(make_batch(tenant.key))
    assert response.status_code == 503
    assert stored() == (0, 0, 0)
    assert EventKey.objects.count() == 0


def test_other_methods_are_refused(client):
    response = client.get("/v1/ingest")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_an_event_id_may_be_any_short_string(send, tenant):
    batch = make_batch(tenant.key, events=0, movement=0)
    batch["events"] = [
        {"id": str(uuid.uuid4()), "type": "a"},
        {"id": "x" * 64, "type": "b"},
        {"id": "x" * 65, "type": "c"},
    ]
    body = send(batch).json()
    assert body["accepted"]["events"] == 2
    assert body["rejected"] == [{"kind": "event", "index": 2, "reason": "id: must be at most 64 characters"}]


def test_refusals_are_readable_by_the_page_so_the_sdk_does_not_retry_them(send, tenant, settings):
    origin = {"HTTP_ORIGIN": tenant.origin}
    unknown_key = send(make_batch("ak_" + "u" * 32), **origin)
    assert unknown_key.status_code == 401
    assert unknown_key["Access-Control-Allow-Origin"] == tenant.origin
    settings.MAX_BODY_BYTES = 10
    too_large = send(make_batch(tenant.key), **origin)
    assert too_large.status_code == 413
    assert too_large["Access-Control-Allow-Origin"] == tenant.origin
    assert stored() == (0, 0, 0)


def test_a_retried_batch_with_a_batch_id_is_stored_once(send, tenant):
    batch = make_batch(tenant.key, events=2, movement=3)
    batch["batchId"] = "b-1"
    batch["sentAt"] = 1_700_000_000_000
    batch["events"].append({"type": "no_id", "path": "/"})
    first = send(batch)
    assert first.json()["accepted"] == {"events": 3, "movement": 3}
    batch["sentAt"] = 1_700_000_005_000  # a retry carries a fresh sentAt
    again = send(batch)
    assert again.status_code == 202
    assert again.json()["accepted"] == {"events": 0, "movement": 0}  # stored by the first sending
    assert again.json()["duplicates"] == 3
    assert stored() == (1, 3, 3)


def test_batches_with_other_ids_or_none_are_all_stored(send, tenant, other_tenant):
    movement_only = make_batch(tenant.key, events=0, movement=2)
    for batch_id in ("b-1", "b-2", None):
        send({**movement_only, "batchId": batch_id})
    send({**make_batch(other_tenant.key, events=0, movement=2), "batchId": "b-1"})  # ids are per project
    assert MovementSample.objects.filter(project=tenant.project).count() == 6
    assert MovementSample.objects.filter(project=other_tenant.project).count() == 2


@pytest.mark.parametrize("batch_id", ["", 7, "x" * 129, "a\x00b"])
def test_a_bad_batch_id_refuses_the_envelope(send, tenant, batch_id):
    response = send({**make_batch(tenant.key), "batchId": batch_id})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == "batchId"
    assert stored() == (0, 0, 0)


def test_an_event_id_never_passes_for_a_batch_id(send, tenant):
    # The batch's claim once shared the event-id table under "batch:<digest>": an event with
    # that id made a later batch with the batchId look like a retry, and dropped it.
    from analytics.http import fingerprint

    event_batch = make_batch(tenant.key, events=0, movement=0)
    event_batch["events"] = [{"id": "batch:" + fingerprint("b-1"), "type": "look-alike"}]
    assert send(event_batch).json()["accepted"]["events"] == 1
    response = send({**make_batch(tenant.key, events=2, movement=3), "batchId": "b-1"})
    assert response.json()["accepted"] == {"events": 2, "movement": 3}
    assert stored() == (2, 3, 3)


def test_a_batch_id_never_passes_for_an_event_id(send, tenant):
    from ingest.models import BatchClaim

    send({**make_batch(tenant.key, events=1, movement=1), "batchId": "b-1"})
    claim = BatchClaim.objects.get()
    event_batch = make_batch(tenant.key, events=0, movement=0)
    event_batch["events"] = [{"id": claim.batch_key, "type": "look-alike"}, {"id": "batch:" + claim.batch_key}]
    event_batch["events"][1]["type"] = "look-alike"
    assert send(event_batch).json()["accepted"]["events"] == 2
    assert EventKey.objects.count() == 3  # the events' ids only
    assert (claim.project_id, len(claim.batch_key)) == (tenant.project.id, 24)


def test_the_upgrade_moves_the_last_days_batch_claims_to_their_table(send, tenant):
    import importlib
    from datetime import timedelta

    from django.apps import apps
    from django.utils import timezone

    from analytics.http import fingerprint
    from ingest.models import BatchClaim

    migration = importlib.import_module("ingest.migrations.0006_batch_claims")
    now = timezone.now()
    EventKey.objects.bulk_create(
        EventKey(project=tenant.project, client_id="batch:" + fingerprint(batch_id), received_at=now - age)
        for batch_id, age in [("recent", timedelta(hours=2)), ("old", timedelta(days=3))]
    )
    migration.copy_recent_claims(apps, None)
    assert list(BatchClaim.objects.values_list("batch_key", flat=True)) == [fingerprint("recent")]
    retried = send({**make_batch(tenant.key, events=1, movement=1), "batchId": "recent"})
    assert retried.json()["accepted"] == {"events": 0, "movement": 0}
