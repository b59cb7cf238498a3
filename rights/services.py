"""Data rights across the products of a project: erase one visitor, hand over what is held on
them, export a range; each written to the audit trail.

Erasing a visitor touches ingest's tables and experiments' tables, two apps that must not
know each other (docs/layout.md): each erases its own rows (`erase_visitor_data` in their
services), and this app, which may use both, runs them in one transaction and records it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.db import transaction

from analytics.http import iso
from experiments import services as experiments_services
from ingest import services as ingest_services
from insights.time_ranges import TimeRange
from projects.models import AuditEntry, Project
from projects.services import record_audit, subject_digest
from rights.encoding import ExportFormat
from rights.selectors import ExportKind


@dataclass(frozen=True)
class Erased:
    sessions: int
    events: int
    movement: int
    assignments: int
    conversions: int


def erase_visitor(*, project: Project, anon_id: str, actor: str) -> Erased:
    """Delete every row of `anon_id` in the project, rollups included, in one transaction
    with its audit entry: an erasure that fails half way leaves everything as it was."""
    with transaction.atomic():
        ingest = ingest_services.erase_visitor_data(project_id=project.id, anon_id=anon_id)
        if ingest_services.is_storable_anon_id(anon_id):
            experiments = experiments_services.erase_visitor_data(project_id=project.id, anon_id=anon_id)
            assignments, conversions = experiments.assignments, experiments.conversions
        else:
            assignments = conversions = 0
        erased = Erased(
            sessions=ingest.sessions,
            events=ingest.events,
            movement=ingest.movement,
            assignments=assignments,
            conversions=conversions,
        )
        record_audit(
            actor=actor,
            action=AuditEntry.Action.ERASE_VISITOR,
            project_id=project.id,
            subject=subject_digest(project_id=project.id, anon_id=anon_id),
            details={**asdict(erased), "eventKeys": ingest.event_keys, "sessionHours": ingest.session_hours},
        )
    return erased


def record_hand_over(*, project: Project, anon_id: str, actor: str) -> None:
    record_audit(
        actor=actor,
        action=AuditEntry.Action.HAND_OVER,
        project_id=project.id,
        subject=subject_digest(project_id=project.id, anon_id=anon_id),
        details={},
    )


def record_export(
    *, project: Project, kind: ExportKind, time_range: TimeRange | None, output: ExportFormat, actor: str, via: str
) -> None:
    """An export of a range (or of rows picked in the admin, `time_range` None)."""
    details = {"kind": str(kind), "format": str(output), "via": via}
    if time_range is not None:
        details |= {"from": iso(time_range.start), "to": iso(time_range.end)}
    record_audit(actor=actor, action=AuditEntry.Action.EXPORT, project_id=project.id, details=details)
