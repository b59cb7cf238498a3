"""Erasing while ingest goes on: a batch of the same visitor either lands before the erasure
(and is erased with the rest) or after it (and is all that is left of them); the rollups
match the raw rows either way."""

import threading

import pytest
from django.db import connection, transaction

from analytics.tests.live import wait_until
from ingest.models import Event, Session
from ingest.tests.factories import at
from insights import selectors
from insights.tests import reference
from insights.time_ranges import Interval, TimeRange
from rights import services
from rights.tests.conftest import visit

pytestmark = pytest.mark.django_db(transaction=True)

DAYS = TimeRange(start=at("2025-03-10 00:00"), end=at("2025-03-12 00:00"))
WAITING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
    "AND backend_type = 'client backend'"
)


def waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(WAITING)
        return cursor.fetchone()[0]


def in_thread(work) -> threading.Thread:
    def run():
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def as_counted(project) -> None:
    for interval in Interval:
        scope = {"project_id": project.id, "time_range": DAYS, "interval": interval, "limit": 50}
        assert selectors.traffic_stats(**scope) == reference.traffic_stats(**scope)


def test_a_batch_arriving_mid_erasure_waits_and_is_stored_after_it(visitors):
    project = visitors.project
    erased, release, results = threading.Event(), threading.Event(), {}

    def erase():
        with transaction.atomic():
            results["erased"] = services.erase_visitor(project=project, anon_id="alice", actor="test")
            erased.set()
            release.wait(timeout=30)

    eraser = in_thread(erase)
    assert erased.wait(timeout=30)
    batch = in_thread(
        lambda: visit(project, anon_id="alice", session_id="a1", events=[("page_view", "/again", "2025-03-10 10:30")])
    )
    # The batch's session upsert waits on the row the erasure locked; other visitors' do not.
    wait_until(lambda: waiting_on_a_lock() == 1, timeout=20, what="the batch waiting on the erasure")
    visit(project, anon_id="carol", session_id="c1", events=[("page_view", "/", "2025-03-10 10:40")])
    assert eraser.is_alive() and batch.is_alive()  # carol's batch went through meanwhile
    release.set()
    eraser.join(timeout=30)
    batch.join(timeout=30)
    assert results["erased"].events == 4
    (session,) = Session.objects.filter(project=project, anon_id="alice")
    assert session.session_id == "a1"
    assert list(Event.objects.filter(session=session).values_list("path", flat=True)) == ["/again"]
    as_counted(project)


def test_a_batch_in_flight_when_the_erasure_starts_is_erased_with_the_rest(visitors):
    from ingest import services as ingest_services

    project = visitors.project
    stored, release = threading.Event(), threading.Event()

    def batch():
        # A batch whose transaction is still open: it holds its session's row.
        with transaction.atomic():
            payload = {
                "session": {"sessionId": "a2", "anonId": "alice"},
                "events": [
                    {"type": "page_view", "path": "/in-flight", "ts": int(at("2025-03-11 09:30").timestamp() * 1000)}
                ],
            }
            ingest_services.ingest_batch(project_id=project.id, payload=payload, received_at=at("2025-03-12 12:00"))
            stored.set()
            release.wait(timeout=30)

    sender = in_thread(batch)
    assert stored.wait(timeout=30)
    results = {}
    eraser = in_thread(
        lambda: results.update(erased=services.erase_visitor(project=project, anon_id="alice", actor="test"))
    )
    wait_until(lambda: waiting_on_a_lock() == 1, timeout=20, what="the erasure waiting on the batch")
    release.set()
    sender.join(timeout=30)
    eraser.join(timeout=30)
    assert results["erased"].events == 5
    assert not Session.objects.filter(project=project, anon_id="alice").exists()
    assert not Event.objects.filter(path="/in-flight").exists()
    as_counted(project)
