"""POST /v1/ingest from crawlers, bots and headless browsers: answered, counted, not stored."""

import pytest
from django.utils import timezone

from ingest.models import BatchClaim, Event, EventKey, HourlyCount, MovementSample, Session, SessionHour
from ingest.serializers import IngestResultSerializer
from ingest.tests.conftest import make_batch
from projects.models import FilteredBotHour

pytestmark = pytest.mark.django_db

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"
)
FILTERED = {
    "accepted": {"events": 0, "movement": 0},
    "duplicates": 0,
    "rejected": [],
    "rejectedCount": 0,
    "filtered": "bot",
}


TABLES = (Event, EventKey, MovementSample, Session, SessionHour, HourlyCount, BatchClaim)
NOTHING = {model.__name__: 0 for model in TABLES}


def stored_rows() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TABLES}


def filtered_counts() -> dict:
    return dict(FilteredBotHour.objects.values_list("project_id", "requests"))


@pytest.mark.parametrize("user_agent", [GOOGLEBOT, HEADLESS])
def test_a_bot_batch_is_answered_as_filtered_and_stores_nothing(send, tenant, other_tenant, user_agent):
    response = send(make_batch(tenant.key, batchId="b1"), HTTP_USER_AGENT=user_agent, HTTP_ORIGIN=tenant.origin)
    assert response.status_code == 202
    assert response.json() == FILTERED
    assert list(response.json()) == list(IngestResultSerializer().fields)
    assert response["Access-Control-Allow-Origin"] == tenant.origin
    assert stored_rows() == NOTHING
    assert filtered_counts() == {tenant.project.id: 1}


def test_bot_batches_are_counted_per_hour_of_arrival(send, tenant):
    for _ in range(3):
        send(make_batch(tenant.key), HTTP_USER_AGENT=GOOGLEBOT)
    row = FilteredBotHour.objects.get()
    assert row.requests == 3
    assert row.hour == timezone.now().replace(minute=0, second=0, microsecond=0)


def test_a_bot_batch_lists_its_bad_items_like_any_other(send, tenant):
    batch = make_batch(tenant.key, events=1)
    batch["events"].append({"type": ""})
    response = send(batch, HTTP_USER_AGENT=GOOGLEBOT)
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["filtered"], body["rejectedCount"]) == (FILTERED["accepted"], "bot", 1)
    assert [item["index"] for item in body["rejected"]] == [1]
    assert stored_rows() == NOTHING


def test_a_malformed_bot_batch_gets_the_same_400_and_is_not_counted(send, tenant):
    batch = make_batch(tenant.key)
    del batch["session"]
    response = send(batch, HTTP_USER_AGENT=GOOGLEBOT)
    assert response.status_code == 400
    assert stored_rows() == NOTHING
    assert filtered_counts() == {}


def test_a_bot_with_a_bad_key_still_gets_401_and_is_not_counted(send, tenant):
    response = send(make_batch("ak_" + "n" * 32), HTTP_USER_AGENT=GOOGLEBOT)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert filtered_counts() == {}


def test_a_bot_from_another_origin_still_gets_403(send, tenant):
    response = send(make_batch(tenant.key), HTTP_USER_AGENT=GOOGLEBOT, HTTP_ORIGIN="https://elsewhere.example")
    assert response.status_code == 403
    assert filtered_counts() == {}


def test_with_filter_bots_off_bot_batches_are_stored(send, tenant, other_tenant):
    tenant.project.filter_bots = False
    tenant.project.save()
    response = send(make_batch(tenant.key, events=2, movement=3), HTTP_USER_AGENT=GOOGLEBOT)
    assert response.status_code == 202
    assert response.json() == {
        "accepted": {"events": 2, "movement": 3},
        "duplicates": 0,
        "rejected": [],
        "rejectedCount": 0,
    }
    assert Event.objects.filter(project=tenant.project).count() == 2
    assert Session.objects.get().user_agent == GOOGLEBOT
    assert filtered_counts() == {}


@pytest.mark.parametrize("user_agent", [None, "", "curl/8.5.0", "python-requests/2.32.3", "Go-http-client/2.0"])
def test_servers_and_clients_without_a_user_agent_are_stored(send, tenant, user_agent):
    meta = {} if user_agent is None else {"HTTP_USER_AGENT": user_agent}
    response = send(make_batch(tenant.key, events=1, movement=0), **meta)
    assert response.status_code == 202
    assert "filtered" not in response.json()
    assert Event.objects.count() == 1
    assert filtered_counts() == {}


def test_a_bot_of_one_tenant_leaves_the_other_untouched(send, tenant, other_tenant):
    other_tenant.project.filter_bots = False
    other_tenant.project.save()
    send(make_batch(tenant.key), HTTP_USER_AGENT=GOOGLEBOT)
    send(make_batch(other_tenant.key, events=1, movement=0), HTTP_USER_AGENT=GOOGLEBOT)
    assert filtered_counts() == {tenant.project.id: 1}
    assert list(Event.objects.values_list("project_id", flat=True)) == [other_tenant.project.id]
