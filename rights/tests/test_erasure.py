"""Erasing a visitor: every row of the anonId goes, rollups included, in one transaction;
nothing else moves."""

import re
from datetime import timedelta
from io import StringIO
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from experiments import services as experiments_services
from experiments.models import Assignment, Conversion
from ingest import services as ingest_services
from ingest import statements
from ingest.models import Event, EventKey, HourlyCount, HourlyCountDelta, MovementSample, Session, SessionHour
from ingest.synthetic import generate_traffic
from ingest.tests.factories import at
from insights import selectors
from insights.tests import reference
from insights.time_ranges import Interval, TimeRange
from projects.models import AuditEntry
from projects.services import subject_digest
from rights import services

pytestmark = pytest.mark.django_db

ALICE = {"sessions": 2, "events": 4, "movement": 6, "assignments": 1, "conversions": 2}
ZEROS = dict.fromkeys(ALICE, 0)
DAYS = TimeRange(start=at("2025-03-10 00:00"), end=at("2025-03-12 00:00"))


def rows_of(project, anon_id: str) -> dict[str, int]:
    sessions = Session.objects.filter(project=project, anon_id=anon_id)
    ids = list(sessions.values_list("id", flat=True))
    return {
        "sessions": sessions.count(),
        "events": Event.objects.filter(session_id__in=ids).count(),
        "movement": MovementSample.objects.filter(session_id__in=ids).count(),
        "sessionHours": SessionHour.objects.filter(project=project, anon_id=anon_id).count(),
        "assignments": Assignment.objects.filter(project=project, anon_id=anon_id).count(),
        "conversions": Conversion.objects.filter(project=project, anon_id=anon_id).count(),
    }


def everything_as_counted(project) -> None:
    for interval in Interval:
        scope = {"project_id": project.id, "time_range": DAYS, "interval": interval, "limit": 50}
        assert selectors.traffic_stats(**scope) == reference.traffic_stats(**scope)


def test_it_deletes_every_row_of_the_visitor_and_answers_the_counts(visitors, other_tenant, admin_api):
    project = visitors.project
    bob_before, stranger_before = rows_of(project, "bob"), rows_of(other_tenant.project, "alice")
    response = admin_api.delete(f"/v1/projects/{project.id}/visitors/alice")
    assert response.status_code == 200, response.content
    assert response.json() == {"deleted": ALICE}
    assert set(rows_of(project, "alice").values()) == {0}
    assert not EventKey.objects.filter(project=project, client_id__startswith="a").exists()
    assert rows_of(project, "bob") == bob_before
    assert rows_of(other_tenant.project, "alice") == stranger_before
    assert EventKey.objects.filter(project=other_tenant.project).count() == 1


def test_the_rollups_count_as_if_the_visitor_never_came(visitors, admin_api):
    project = visitors.project
    ingest_services.compact_hourly_counts()  # some of her counts compacted, some not
    visit_late = {
        "session": {"sessionId": "a3", "anonId": "alice"},
        "events": [{"type": "page_view", "path": "/late", "ts": 1741600000000}],
    }
    ingest_services.ingest_batch(project_id=project.id, payload=visit_late, received_at=at("2025-03-12 12:00"))
    admin_api.delete(f"/v1/projects/{project.id}/visitors/alice")
    everything_as_counted(project)
    stats = selectors.traffic_stats(project_id=project.id, time_range=DAYS, interval=Interval.DAY, limit=50)
    assert [path.value for path in stats.top_paths] == ["/", "/pricing"]
    assert [kind.value for kind in stats.top_event_types] == ["page_view"]
    ingest_services.compact_hourly_counts()
    everything_as_counted(project)
    # What cancelled out is gone from the compacted counts, not kept as zeros.
    assert not HourlyCount.objects.filter(project=project, value__in=["/late", "signup"]).exists()
    assert not HourlyCountDelta.objects.exists()


def test_repeating_it_or_an_unknown_visitor_gives_zeros(visitors, admin_api):
    url = f"/v1/projects/{visitors.project.id}/visitors/alice"
    assert admin_api.delete(url).json() == {"deleted": ALICE}
    assert admin_api.delete(url).json() == {"deleted": ZEROS}
    assert admin_api.delete(f"/v1/projects/{visitors.project.id}/visitors/nobody").json() == {"deleted": ZEROS}


@pytest.mark.parametrize(
    "anon_id",
    ["x" * 10_000, "%00", "a%00b", "%FF%FE", "%C0%AF", "a%2Fb", "..%2F..", "%25", "\u00e9\u4e2d"],
    ids=["10kB", "nul", "inner-nul", "bad-utf8", "overlong-utf8", "slash", "dots", "percent", "unicode"],
)
def test_any_anon_id_gets_zeros_never_an_error(visitors, admin_api, anon_id):
    url = f"/v1/projects/{visitors.project.id}/visitors/{anon_id}"
    response = admin_api.delete(url)
    assert response.status_code == 200, response.content
    assert response.json() == {"deleted": ZEROS}
    assert admin_api.get(url).status_code == 200
    assert rows_of(visitors.project, "alice")["events"] == 4


def test_an_anon_id_with_a_slash_is_erased(tenant, admin_api):
    from rights.tests.conftest import visit

    visit(tenant.project, anon_id="team/alice", session_id="s", events=[("page_view", "/", "2025-03-10 10:00")])
    response = admin_api.delete(f"/v1/projects/{tenant.project.id}/visitors/{quote('team/alice', safe='')}")
    assert response.json()["deleted"]["sessions"] == 1


@pytest.mark.parametrize("project_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "%00"])
def test_an_unknown_project_is_404(admin_api, db, project_id):
    response = admin_api.delete(f"/v1/projects/{project_id}/visitors/alice")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "project_not_found"


def test_it_needs_the_admin_key(visitors, client):
    response = client.delete(f"/v1/projects/{visitors.project.id}/visitors/alice")
    assert response.status_code == 401
    assert rows_of(visitors.project, "alice")["sessions"] == 2


def test_a_failure_half_way_leaves_everything_as_it_was(visitors, monkeypatch):
    project = visitors.project
    before = rows_of(project, "alice")
    deltas = HourlyCountDelta.objects.count()

    def fail(**kwargs):
        raise RuntimeError("experiments down")

    # The ingest rows are already deleted when this runs.
    monkeypatch.setattr(experiments_services, "erase_visitor_data", fail)
    with pytest.raises(RuntimeError):
        services.erase_visitor(project=project, anon_id="alice", actor="test")
    assert rows_of(project, "alice") == before
    assert HourlyCountDelta.objects.count() == deltas
    assert not AuditEntry.objects.exists()
    everything_as_counted(project)


def test_the_audit_trail_names_the_visitor_by_a_keyed_digest_only(visitors, admin_api):
    admin_api.delete(f"/v1/projects/{visitors.project.id}/visitors/alice")
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.project_id) == ("erase_visitor", visitors.project.id)
    assert entry.actor.startswith("admin key ") and "test-admin-key" not in entry.actor
    assert entry.subject_digest == subject_digest(project_id=visitors.project.id, anon_id="alice")
    assert "alice" not in str(entry.details) and entry.details["events"] == 4


def test_the_command_erases_and_says_what_it_did(visitors):
    output = StringIO()
    call_command("erasevisitor", str(visitors.project.id), "alice", stdout=output)
    assert "2 sessions, 4 events, 6 movement samples, 1 assignments, 2 conversions" in output.getvalue()
    assert rows_of(visitors.project, "alice")["sessions"] == 0
    assert AuditEntry.objects.get().actor == "command line"


def test_the_visitors_rows_are_found_through_indexes(visitors):
    project = visitors.project
    sessions = list(Session.objects.filter(anon_id="alice", project=project).values_list("id", flat=True))
    # A project with many rows in every day partition, so the planner picks what it would in
    # production rather than reading a tiny table whole.
    now = timezone.now()
    generate_traffic(project_id=project.id, start=now - timedelta(days=4), end=now, events=10_000, seed=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE ingest_session, ingest_event, ingest_movementsample, ingest_sessionhour, ingest_eventkey"
        )
        plans = []
        for sql, params in (
            (statements.LOCK_VISITOR_SESSIONS_SQL, {"project": project.id, "anon_id": "alice"}),
            (statements.ERASE_SESSIONS_SQL, {"project": project.id, "sessions": sessions}),
        ):
            cursor.execute("EXPLAIN " + sql, params)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    lock_plan, erase_plan = plans
    assert "session_anon_id" in lock_plan
    # Every day partition with rows is probed by session, none read whole or through the
    # project's time or page index; only a table of a few rows (today's partition, the days
    # ahead, the default one with the generator's stray hours, the event ids) is read whole.
    # Rows are counted rather than pages: earlier tests' rolled-back rows leave dead pages.
    assert "occurred_at_idx" not in erase_plan and "md5" not in erase_plan, erase_plan
    assert erase_plan.count("_session_id_project_id_idx on ingest_event_p") >= 4, erase_plan
    assert erase_plan.count("_session_id_project_id_idx on ingest_movementsample_p") >= 4, erase_plan
    with connection.cursor() as cursor:
        for table in set(re.findall(r"Seq Scan on (\w+)", erase_plan)) - {"ingest_sessionhour"}:
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone()[0] <= 1000, (table, erase_plan)
        # Session-hour rows are found by their whole key (on a table this small, reading it
        # all is cheaper; on a real one, the key is what makes it cheap).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + statements.ERASE_SESSIONS_SQL, {"project": project.id, "sessions": sessions})
        keyed = "\n".join(row[0] for row in cursor.fetchall())
    assert re.search(
        r"ingest_sessionhour_pkey on ingest_sessionhour.*\n.*Index Cond: .*hour = .*session_id = ", keyed
    ), keyed
