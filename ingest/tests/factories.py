"""Rows written straight through the ORM, so tests know every number by hand."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from ingest import services
from ingest.models import Event, MovementSample, Session
from projects.models import Project

_numbers = itertools.count(1)


def at(text: str) -> datetime:
    """'2025-03-10 23:50' as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_session(project: Project, *, anon_id: str = "anon", **fields) -> Session:
    moment = at("2025-03-01 00:00")
    values = {"first_seen_at": moment, "last_seen_at": moment, **fields}
    return Session.objects.create(project=project, session_id=f"s{next(_numbers)}", anon_id=anon_id, **values)


def make_event(session: Session, when: str, *, type: str = "page_view", path: str = "/") -> Event:
    moment = at(when)
    event = Event.objects.create(
        project_id=session.project_id,
        session=session,
        type=type,
        path=path,
        occurred_at=moment,
        received_at=moment,
    )
    # As the ingest statement would have (a no-op where there are no rollups).
    services.rebuild_rollups(start=moment, end=moment + timedelta(microseconds=1))
    return event


def make_sample(
    session: Session,
    *,
    x: int,
    y: int,
    kind: str = "click",
    path: str = "/",
    vw: int | None = 1000,
    vh: int | None = 800,
    when: str = "2025-03-10 12:00",
) -> MovementSample:
    return MovementSample.objects.create(
        project_id=session.project_id,
        session=session,
        occurred_at=at(when),
        x=x,
        y=y,
        kind=kind,
        path=path,
        viewport_width=vw,
        viewport_height=vh,
    )


# Later than every event of ingest_events' batches: each is a late arrival, like a retried
# batch, and lands in the hour it happened in, not the hour it arrived in.
LATE_RECEIPT = at("2025-03-12 12:00")


def ms(text: str) -> int:
    """'2025-03-10 10:30' as epoch milliseconds, the SDK's timestamps."""
    return int(at(text).timestamp() * 1000)


def ingest_events(
    project: Project,
    session_id: str,
    events: list[tuple[str, str, str]],
    *,
    referrer: str = "",
    anon_id: str = "a",
    user_agent: str = "",
    landing_url: str | None = None,
    client_address: str = "",
) -> None:
    """One batch of (type, path, time) events through the ingest service, received at LATE_RECEIPT."""
    session = {"sessionId": session_id, "anonId": anon_id, "referrer": referrer, "language": "en"}
    if landing_url is not None:
        session["landingUrl"] = landing_url
    payload = {
        "session": session,
        "events": [{"type": kind, "path": path, "ts": ms(when)} for kind, path, when in events],
        "movement": [],
    }
    services.ingest_batch(
        project_id=project.id,
        payload=payload,
        received_at=LATE_RECEIPT,
        user_agent=user_agent,
        client_address=client_address,
    )
