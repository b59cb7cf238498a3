import pytest

from ingest.tests.conftest import make_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(send, tenant, other_tenant):
    batch = make_batch(tenant.key, session_id="visit-1")
    batch["events"].append({"type": "signup", "path": "/<script>alert(1)</script>", "props": {"x": "<b>"}})
    send(batch)
    send(make_batch(other_tenant.key, session_id="visit-2"))


@pytest.mark.parametrize(
    ("model", "shown"), [("session", b"visit-1"), ("event", b"signup"), ("movementsample", b"move")]
)
def test_staff_can_list_raw_data_read_only(admin_client, data, model, shown):
    response = admin_client.get(f"/admin/ingest/{model}/")
    assert response.status_code == 200
    assert shown in response.content
    assert f"/admin/ingest/{model}/add/".encode() not in response.content


def test_event_list_filters_by_type_and_project(admin_client, data, tenant):
    response = admin_client.get(f"/admin/ingest/event/?type=signup&project__id__exact={tenant.project.id}")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_search_finds_events_by_session_or_anon_id(admin_client, data):
    by_session = admin_client.get("/admin/ingest/event/?q=visit-2")
    assert by_session.context["cl"].result_count == 2
    anon_id = by_session.context["cl"].result_list[0].session.anon_id
    by_anon = admin_client.get(f"/admin/ingest/session/?q={anon_id}")
    assert [s.session_id for s in by_anon.context["cl"].result_list] == ["visit-2"]


def test_script_payloads_are_shown_escaped(admin_client, data):
    response = admin_client.get("/admin/ingest/event/?type=signup")
    assert b"<script>alert(1)</script>" not in response.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.content


def test_raw_data_cannot_be_edited(admin_client, data):
    from ingest.models import Event

    event = Event.objects.first()
    response = admin_client.post(f"/admin/ingest/event/{event.pk}/change/", {"type": "changed"})
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.type != "changed"
