import itertools
from datetime import UTC, datetime

import pytest

from experiments import services as experiments_services
from ingest import services as ingest_services

RECEIVED = datetime(2025, 3, 12, 12, 0, tzinfo=UTC)
_batches = itertools.count()


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def visit(project, *, anon_id: str, session_id: str, events: list[tuple[str, str, str]], samples: int = 2) -> None:
    """One batch of (type, path, time) events and a few samples through the ingest service."""
    batch = next(_batches)
    payload = {
        "session": {"sessionId": session_id, "anonId": anon_id, "referrer": "https://t.co/", "language": "en"},
        "events": [
            {"id": f"{session_id}-{batch}-{n}", "type": kind, "path": path, "ts": ms(when)}
            for n, (kind, path, when) in enumerate(events)
        ],
        "movement": [{"x": n, "y": n, "kind": "click", "path": "/", "ts": ms(events[0][2])} for n in range(samples)],
    }
    ingest_services.ingest_batch(project_id=project.id, payload=payload, received_at=RECEIVED)


@pytest.fixture
def visitors(tenant, other_tenant):
    """Visitor "alice" of `tenant`: two sessions over two hours, exposed to an experiment and
    converted; "bob" shares her hours and paths; `other_tenant` has an "alice" of its own."""
    project = tenant.project
    visit(
        project,
        anon_id="alice",
        session_id="a1",
        events=[("page_view", "/", "2025-03-10 10:10"), ("signup", "/", "2025-03-10 11:20")],
    )
    visit(project, anon_id="alice", session_id="a1", events=[("page_view", "/pricing", "2025-03-10 11:30")])
    visit(project, anon_id="alice", session_id="a2", events=[("page_view", "/", "2025-03-11 09:00")])
    visit(
        project,
        anon_id="bob",
        session_id="b1",
        events=[("page_view", "/", "2025-03-10 10:15"), ("page_view", "/pricing", "2025-03-10 11:40")],
    )
    visit(other_tenant.project, anon_id="alice", session_id="a1", events=[("page_view", "/", "2025-03-10 10:10")])
    for project_ in (project, other_tenant.project):
        experiments_services.create_experiment(project=project_, key="checkout", variants=[("control", 50), ("b", 50)])
        for anon_id in ("alice", "bob"):
            experiments_services.assign(project_id=project_.id, experiment_key="checkout", anon_id=anon_id)
            experiments_services.convert(project_id=project_.id, experiment_key="checkout", anon_id=anon_id, goal="buy")
    experiments_services.convert(project_id=project.id, experiment_key="checkout", anon_id="alice", goal="signup")
    return tenant
