from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from analytics.degraded import UNREACHABLE, fail_open
from analytics.errors import ApiError, not_found
from analytics.http import fingerprint
from projects.models import ApiKey, Project

KEY_PREFIX = "ak_"
MAX_KEY_LENGTH = 64
# What mint_key makes: the prefix and URL-safe characters. Anything else (a NUL, which
# Postgres text cannot hold, say) is refused without a query.
KEY_FORMAT = re.compile(rf"{KEY_PREFIX}[A-Za-z0-9_-]{{1,{MAX_KEY_LENGTH - len(KEY_PREFIX)}}}\Z")
# Cached for unknown and revoked keys, so guessing keys does not reach the database.
NO_PROJECT = ""
# For a caller that has not read the cache entry itself.
NOT_READ = object()


@dataclass(frozen=True)
class KeyedProject:
    """What a public request needs to know about the project its key belongs to."""

    id: uuid.UUID
    origins: frozenset[str]
    filter_bots: bool


def is_well_formed_key(key: str) -> bool:
    return KEY_FORMAT.match(key) is not None


def key_cache_key(key: str) -> str:
    # v2: the entry is (project id, origins, filter_bots); entries cached by a release before
    # filter_bots have another name, so a rolling deploy never reads one.
    return f"apikey:v2:{fingerprint(key)}"


def is_cached_project(cached: Any) -> bool:
    """Whether a cache entry read under `key_cache_key` holds a key's project (not a miss,
    not a known-unknown key, not Redis down)."""
    return isinstance(cached, (list, tuple))


def project_for_key(*, key: str, cached: Any = NOT_READ) -> KeyedProject | None:
    """The project of an active browser key, through the cache (KEY_CACHE_TTL_S).

    `cached` is the cache entry under `key_cache_key(key)` when the caller has read it
    already (the public endpoints read it in the rate limit's round trip).
    """
    if not is_well_formed_key(key):
        return None
    cache_key = key_cache_key(key)
    if cached is NOT_READ:
        cached = fail_open("keyCache", UNREACHABLE, cache.get, cache_key)
    if cached is None or cached is UNREACHABLE:
        row = (
            ApiKey.objects.filter(key=key, revoked_at__isnull=True)
            .values_list("project_id", "project__origins", "project__filter_bots")
            .first()
        )
        found = (str(row[0]), list(row[1]), row[2]) if row else NO_PROJECT
        if cached is None:  # not worth a second failing round trip when Redis is down
            fail_open("keyCache", None, cache.set, cache_key, found, timeout=settings.KEY_CACHE_TTL_S)
        cached = found
    if cached == NO_PROJECT:
        return None
    project_id, origins, filter_bots = cached
    return KeyedProject(id=uuid.UUID(project_id), origins=frozenset(origins), filter_bots=filter_bots)


def list_projects() -> QuerySet[Project]:
    return Project.objects.prefetch_related("keys").order_by("created_at")


def get_project(*, project_id: str) -> Project:
    try:
        return Project.objects.get(pk=uuid.UUID(str(project_id)))
    except (ValueError, Project.DoesNotExist):
        raise not_found("project_not_found", f"No project with id {project_id!r}.") from None


def oldest_project_named(*, name: str) -> Project | None:
    return Project.objects.filter(name=name).order_by("created_at").first()


def get_project_by_id_or_name(*, ref: str) -> Project:
    """For the command line: a project id, or a name that only one project has."""
    try:
        return get_project(project_id=ref)
    except ApiError:
        matches = list(Project.objects.filter(name=ref)[:2])
        if len(matches) != 1:
            raise not_found("project_not_found", f"No single project with id or name {ref!r}.") from None
        return matches[0]
