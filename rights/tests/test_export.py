"""Exporting a range of a project's raw rows: NDJSON or CSV, streamed; the API, the command
and the admin actions."""

import csv
import io
from io import StringIO

import orjson
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from ingest.models import Event, Session
from projects.models import AuditEntry

pytestmark = pytest.mark.django_db

RANGE = "from=2025-03-10&to=2025-03-10"


def body(response) -> bytes:
    assert response.status_code == 200, response.content
    assert response.streaming
    return b"".join(response.streaming_content)


def test_it_exports_the_events_of_the_range_as_ndjson(visitors, admin_api):
    response = admin_api.get(f"/v1/projects/{visitors.project.id}/export?kind=events&{RANGE}&format=ndjson")
    assert response["Content-Type"] == "application/x-ndjson"
    rows = [orjson.loads(line) for line in body(response).splitlines()]
    # Alice's three and Bob's two of March 10th; not the 11th, not the other project's.
    assert sorted((row["sessionId"], row["path"], row["occurredAt"]) for row in rows) == [
        ("a1", "/", "2025-03-10T10:10:00Z"),
        ("a1", "/", "2025-03-10T11:20:00Z"),
        ("a1", "/pricing", "2025-03-10T11:30:00Z"),
        ("b1", "/", "2025-03-10T10:15:00Z"),
        ("b1", "/pricing", "2025-03-10T11:40:00Z"),
    ]
    assert set(rows[0]) == {"sessionId", "clientId", "type", "path", "props", "occurredAt", "receivedAt"}


def test_it_exports_sessions_and_movement_as_csv(visitors, admin_api):
    url = f"/v1/projects/{visitors.project.id}/export?{RANGE}&format=csv"
    sessions = list(csv.DictReader(io.StringIO(body(admin_api.get(f"{url}&kind=sessions")).decode())))
    # Sessions are those active in the range: all of them arrived on March 12th, so none.
    assert sessions == []
    wide = f"/v1/projects/{visitors.project.id}/export?from=2025-03-01&to=2025-03-31&format=csv"
    sessions = list(csv.DictReader(io.StringIO(body(admin_api.get(f"{wide}&kind=sessions")).decode())))
    assert sorted(row["sessionId"] for row in sessions) == ["a1", "a2", "b1"]
    assert sessions[0]["referrer"] == "https://t.co/" and "spansHours" not in sessions[0]
    response = admin_api.get(f"{url}&kind=movement")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    movement = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert len(movement) == 4 + 2  # two of each batch on the 10th: two of a1, one of b1
    assert {row["kind"] for row in movement} == {"click"}


def test_csv_cells_hold_json_for_props_and_nothing_for_null(tenant, admin_api):
    from rights.tests.conftest import visit

    visit(tenant.project, anon_id="x", session_id="s", events=[("page_view", '/a,"b"', "2025-03-10 10:00")])
    Event.objects.update(props={"k": "v, w"})
    text = body(admin_api.get(f"/v1/projects/{tenant.project.id}/export?kind=events&{RANGE}&format=csv")).decode()
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert (row["path"], orjson.loads(row["props"])) == ('/a,"b"', {"k": "v, w"})


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("kind=users", "kind"),
        ("format=xml", "format"),
        ("kind=%00", "kind"),
        ("from=yesterday", "from"),
        ("to=2025-13-01", "to"),
        (f"format={'x' * 10_000}", "format"),
    ],
)
def test_a_bad_parameter_is_a_clear_400(tenant, admin_api, query, field):
    response = admin_api.get(f"/v1/projects/{tenant.project.id}/export?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_field" and error["details"]["field"] == field
    assert len(error["message"]) < 300
    assert not AuditEntry.objects.exists()


def test_a_backwards_range_is_400_and_an_unknown_project_404(tenant, admin_api):
    response = admin_api.get(f"/v1/projects/{tenant.project.id}/export?from=2025-03-10&to=2025-03-01")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_range"
    assert admin_api.get("/v1/projects/nope/export").status_code == 404


def test_the_export_is_audited(visitors, admin_api):
    body(admin_api.get(f"/v1/projects/{visitors.project.id}/export?{RANGE}"))
    entry = AuditEntry.objects.get()
    assert entry.action == "export"
    assert entry.details == {
        "kind": "events",
        "format": "ndjson",
        "via": "api",
        "from": "2025-03-10T00:00:00Z",
        "to": "2025-03-11T00:00:00Z",
    }


def test_the_command_writes_a_file_or_stdout(visitors, tmp_path, capsysbinary):
    target = tmp_path / "events.csv"
    call_command(
        "export",
        "shop",
        "--kind",
        "events",
        "--from",
        "2025-03-10",
        "--to",
        "2025-03-10",
        "--format",
        "csv",
        "-o",
        str(target),
        stderr=StringIO(),
    )
    assert len(list(csv.DictReader(target.open()))) == 5
    call_command("export", str(visitors.project.id), "--kind", "sessions", "--from", "2025-03-01", "--to", "2025-03-31")
    out = capsysbinary.readouterr().out
    assert sorted(orjson.loads(line)["sessionId"] for line in out.splitlines()) == ["a1", "a2", "b1"]
    assert [entry.details["via"] for entry in AuditEntry.objects.all()] == ["command", "command"]


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


def test_the_admin_exports_the_selected_rows_as_csv(visitors, staff):
    selected = Event.objects.filter(session__anon_id="bob").values_list("pk", flat=True)
    response = staff.post(
        "/admin/ingest/event/", {"action": "export_csv", "_selected_action": [str(pk) for pk in selected]}
    )
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert sorted(row["path"] for row in rows) == ["/", "/pricing"]
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.details) == ("staff boss", {"kind": "events", "format": "csv", "via": "admin"})


def test_the_admin_erases_the_visitors_of_the_selected_sessions(visitors, other_tenant, staff):
    selected = Session.objects.filter(project=visitors.project, anon_id="alice").values_list("pk", flat=True)[:1]
    response = staff.post(
        "/admin/ingest/session/", {"action": "erase_visitors", "_selected_action": [str(selected[0])]}, follow=True
    )
    assert b"Erased 1 visitor(s): 2 session(s), 4 event(s)" in response.content
    assert not Session.objects.filter(project=visitors.project, anon_id="alice").exists()
    assert Session.objects.filter(project=other_tenant.project, anon_id="alice").exists()
    assert AuditEntry.objects.get().actor == "staff boss"


def test_the_dashboard_exports_its_range_as_csv_for_staff_only(visitors, staff, client):
    url = f"/admin/projects/project/{visitors.project.id}/export/events/?from=2025-03-10&to=2025-03-10"
    dashboard = staff.get(f"/admin/projects/project/{visitors.project.id}/insights/")
    assert f"/admin/projects/project/{visitors.project.id}/export/events/?from=" in dashboard.content.decode()
    rows = list(csv.DictReader(io.StringIO(body(staff.get(url)).decode())))
    assert sorted((row["sessionId"], row["occurredAt"]) for row in rows) == [
        ("a1", "2025-03-10T10:10:00Z"),
        ("a1", "2025-03-10T11:20:00Z"),
        ("a1", "2025-03-10T11:30:00Z"),
        ("b1", "2025-03-10T10:15:00Z"),
        ("b1", "2025-03-10T11:40:00Z"),
    ]
    entry = AuditEntry.objects.get(project=visitors.project, action=AuditEntry.Action.EXPORT)
    assert entry.actor == "staff boss" and entry.details["via"] == "admin"
    assert staff.get(url.replace("from=2025-03-10", "from=yesterday")).status_code == 400
    assert staff.get(url.replace("/events/", "/secrets/")).status_code == 404
    assert AuditEntry.objects.count() == 1
    client.logout()
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]


def test_a_number_beyond_64_bits_in_props_is_exported_exactly(tenant, admin_api):
    from rights.tests.conftest import visit

    visit(tenant.project, anon_id="big", session_id="s-big", events=[("page_view", "/", "2025-03-10T10:00:00")])
    Event.objects.filter(project=tenant.project).update(props={"n": 10**20})
    url = f"/v1/projects/{tenant.project.id}/export?{RANGE}&kind=events"
    [row] = [orjson.loads(line) for line in body(admin_api.get(f"{url}&format=ndjson")).splitlines()]
    assert row["props"] == {"n": 10**20}
    [cell] = [r["props"] for r in csv.DictReader(io.StringIO(body(admin_api.get(f"{url}&format=csv")).decode()))]
    assert cell == '{"n":100000000000000000000}'


def test_dates_are_days_of_the_projects_time_zone(tenant, admin_api):
    from rights.tests.conftest import visit

    tenant.project.time_zone = "Asia/Tokyo"  # UTC+9: its 10 March runs from 15:00 UTC on the 9th
    tenant.project.save(update_fields=["time_zone"])
    events = [("page_view", "/tenth", "2025-03-09 15:30"), ("page_view", "/eleventh", "2025-03-10 15:30")]
    visit(tenant.project, anon_id="tz", session_id="s-tz", events=events)
    url = f"/v1/projects/{tenant.project.id}/export?{RANGE}&kind=events&format=ndjson"
    rows = [orjson.loads(line) for line in body(admin_api.get(url)).splitlines()]
    assert [(row["path"], row["occurredAt"]) for row in rows] == [("/tenth", "2025-03-09T15:30:00Z")]
