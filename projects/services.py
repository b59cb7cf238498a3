from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from analytics.degraded import CACHE_ERRORS
from analytics.errors import invalid_field, not_found
from projects.models import (
    DEFAULT_TIME_ZONE,
    RETENTION_DAYS_MAX,
    ApiKey,
    AuditEntry,
    FilteredBotHour,
    Project,
    validate_time_zone,
)
from projects.origins import normalise_origins
from projects.selectors import KEY_PREFIX, is_well_formed_key, key_cache_key

logger = logging.getLogger(__name__)

KEY_RANDOM_BYTES = 24  # 32 URL-safe characters after the prefix


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise invalid_field("name", "must not be empty")
    if len(name) > 200:
        raise invalid_field("name", "must be at most 200 characters")
    return name


def _clean_origins(origins: list[str]) -> list[str]:
    try:
        return normalise_origins(origins)
    except ValueError as exc:
        raise invalid_field("origins", str(exc)) from None


def _drop_cached(cache_keys: list[str]) -> None:
    try:
        cache.delete_many(cache_keys)
    except CACHE_ERRORS as exc:
        logger.error(
            "could not drop %d cached key lookup(s), Redis unreachable (%s): they expire within %d s",
            len(cache_keys),
            exc,
            settings.KEY_CACHE_TTL_S,
        )


def _forget_cached(cache_keys: list[str]) -> None:
    """Drop cached key->project entries now, and again after commit: a request racing the
    change may have cached the old state in between."""
    _drop_cached(cache_keys)
    transaction.on_commit(lambda: _drop_cached(cache_keys))


def _clean_retention_days(days: int | None) -> int | None:
    if days is not None and not 0 <= days <= RETENTION_DAYS_MAX:
        raise invalid_field("retentionDays", f"must be null or a whole number of days from 0 to {RETENTION_DAYS_MAX}")
    return days


def _clean_time_zone(name: str) -> str:
    try:
        validate_time_zone(name)
    except ValidationError as exc:
        raise invalid_field("timeZone", exc.messages[0]) from None
    return name


def subject_digest(*, project_id: uuid.UUID, anon_id: str) -> str:
    """How the audit trail names a visitor: keyed with SECRET_KEY, so that the anonId cannot
    be recovered from it (guessed ids can only be checked by whoever holds the key)."""
    message = f"{project_id}\x1f{anon_id}".encode("utf-8", "surrogatepass")
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:32]


def staff_actor(user: Any) -> str:
    """How the audit trail names a staff user of the Django admin."""
    return f"staff {user.get_username()}"


def record_audit(
    *, actor: str, action: AuditEntry.Action, project_id: uuid.UUID, subject: str = "", details: dict[str, Any]
) -> AuditEntry:
    """One line of the audit trail. `subject` is a `subject_digest`, never an anonId."""
    entry = AuditEntry.objects.create(
        actor=actor[:200], action=action, project_id=project_id, subject_digest=subject, details=details
    )
    logger.info("audit: %s by %s on project %s: %s", action, actor, project_id, details)
    return entry


def create_project(
    *,
    name: str,
    origins: list[str],
    filter_bots: bool = True,
    retention_days: int | None = None,
    time_zone: str = DEFAULT_TIME_ZONE,
    actor: str = "",
) -> Project:
    project = Project.objects.create(
        name=_clean_name(name),
        origins=_clean_origins(origins),
        filter_bots=filter_bots,
        retention_days=_clean_retention_days(retention_days),
        time_zone=_clean_time_zone(time_zone),
    )
    logger.info("created project %s", project.id)
    if retention_days is not None:
        _audit_retention(project=project, old=None, actor=actor)
    return project


def _audit_retention(*, project: Project, old: int | None, actor: str) -> None:
    record_audit(
        actor=actor or "unknown",
        action=AuditEntry.Action.RETENTION_CHANGE,
        project_id=project.id,
        details={"from": old, "to": project.retention_days},
    )


# For a change that leaves the retention as it is (None means RETENTION_DAYS).
UNCHANGED: Any = object()


def update_project(
    *,
    project: Project,
    name: str,
    origins: list[str],
    filter_bots: bool,
    retention_days: Any = UNCHANGED,
    time_zone: str | None = None,
    actor: str = "",
) -> Project:
    """Rename, re-scope, switch bot filtering or change the retention or time zone (None:
    kept) of a project; its keys' cached entries are dropped with it, and a retention change
    goes to the audit trail."""
    old_retention = project.retention_days
    project.name = _clean_name(name)
    project.origins = _clean_origins(origins)
    project.filter_bots = filter_bots
    if retention_days is not UNCHANGED:
        project.retention_days = _clean_retention_days(retention_days)
    if time_zone is not None:
        project.time_zone = _clean_time_zone(time_zone)
    with transaction.atomic():
        project.save(update_fields=["name", "origins", "filter_bots", "retention_days", "time_zone"])
        if project.retention_days != old_retention:
            _audit_retention(project=project, old=old_retention, actor=actor)
    _forget_cached([key_cache_key(key) for key in project.keys.values_list("key", flat=True)])
    return project


def count_filtered_bot(*, project_id: uuid.UUID, received_at: datetime) -> None:
    """Count one request refused as a bot in its project's hour: one upsert, nothing of the
    request kept."""
    table = FilteredBotHour._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (project_id, hour, requests) VALUES (%s, date_trunc('hour', %s), 1) "
            f"ON CONFLICT (project_id, hour) DO UPDATE SET requests = {table}.requests + 1",
            [project_id, received_at],
        )


def mint_key(*, project: Project, label: str = "") -> ApiKey:
    label = label.strip()
    if len(label) > 100:
        raise invalid_field("label", "must be at most 100 characters")
    api_key = ApiKey.objects.create(
        project=project, label=label, key=KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)
    )
    # A lookup of this exact string may have cached "no project" before it existed.
    _drop_cached([key_cache_key(api_key.key)])
    logger.info("minted key %s… for project %s", api_key.key[:8], project.id)
    return api_key


def revoke_key(*, api_key: ApiKey) -> ApiKey:
    """Revoke at once: the cached key->project entry goes when the revocation commits."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        logger.info("revoked key %s… of project %s", api_key.key[:8], api_key.project_id)
    _forget_cached([key_cache_key(api_key.key)])
    return api_key


def revoke_project_key(*, project: Project, key: str) -> ApiKey:
    api_key = project.keys.filter(key=key).first() if is_well_formed_key(key) else None
    if api_key is None:
        raise not_found("key_not_found", "This project has no such key.")
    return revoke_key(api_key=api_key)


def revoke_key_by_value(*, key: str) -> ApiKey:
    try:
        api_key = ApiKey.objects.get(key=key)
    except ApiKey.DoesNotExist:
        raise not_found("key_not_found", "No such key.") from None
    return revoke_key(api_key=api_key)
