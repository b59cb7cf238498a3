import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from projects import selectors, services
from projects.models import ApiKey
from projects.selectors import project_for_key

pytestmark = pytest.mark.django_db


def test_it_serves_a_repeated_lookup_from_the_cache(tenant):
    with CaptureQueriesContext(connection) as first:
        found = project_for_key(key=tenant.key)
    with CaptureQueriesContext(connection) as second:
        again = project_for_key(key=tenant.key)
    assert found == again
    assert found.id == tenant.project.id
    assert found.origins == frozenset({tenant.origin})
    assert len(first) == 1
    assert len(second) == 0


def test_it_caches_unknown_keys_too(db):
    with CaptureQueriesContext(connection) as first:
        assert project_for_key(key="ak_" + "x" * 32) is None
    with CaptureQueriesContext(connection) as second:
        assert project_for_key(key="ak_" + "x" * 32) is None
    assert (len(first), len(second)) == (1, 0)


@pytest.mark.parametrize("key", ["", "sk_abcdefabcdefabcdefabcdefabcdef", "ak_" + "a" * 80])
def test_it_does_not_look_up_malformed_keys(db, key):
    with CaptureQueriesContext(connection) as queries:
        assert project_for_key(key=key) is None
    assert len(queries) == 0


def test_it_refuses_a_revoked_key_at_once(tenant, django_capture_on_commit_callbacks):
    assert project_for_key(key=tenant.key) is not None
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_key_by_value(key=tenant.key)
    assert project_for_key(key=tenant.key) is None


def test_it_sees_new_origins_after_a_project_update(tenant, django_capture_on_commit_callbacks):
    assert project_for_key(key=tenant.key).origins == frozenset({tenant.origin})
    with django_capture_on_commit_callbacks(execute=True):
        services.update_project(project=tenant.project, name="shop", origins=["https://new.example"])
    assert project_for_key(key=tenant.key).origins == frozenset({"https://new.example"})


def test_a_key_minted_after_a_failed_guess_works(tenant, monkeypatch):
    guessed = "ak_" + "g" * 32
    assert project_for_key(key=guessed) is None
    monkeypatch.setattr("secrets.token_urlsafe", lambda n: "g" * 32)
    services.mint_key(project=tenant.project)
    assert project_for_key(key=guessed).id == tenant.project.id


def _count_redis_reads(monkeypatch) -> list[str]:
    reads: list[str] = []
    real_get = cache.get
    monkeypatch.setattr(cache, "get", lambda key, *args, **kwargs: reads.append(key) or real_get(key, *args, **kwargs))
    return reads


def test_it_keeps_a_lookup_in_process_for_a_short_time(tenant, monkeypatch, settings):
    settings.KEY_CACHE_LOCAL_TTL_S = 2
    reads = _count_redis_reads(monkeypatch)
    clock = [1000.0]
    monkeypatch.setattr(selectors.time, "monotonic", lambda: clock[0])
    for _ in range(3):
        assert project_for_key(key=tenant.key).id == tenant.project.id
    assert len(reads) == 1
    clock[0] += 2.5
    assert project_for_key(key=tenant.key).id == tenant.project.id
    assert len(reads) == 2


def test_another_process_revoking_is_seen_once_the_local_copy_expires(tenant, monkeypatch, settings):
    settings.KEY_CACHE_LOCAL_TTL_S = 2
    clock = [1000.0]
    monkeypatch.setattr(selectors.time, "monotonic", lambda: clock[0])
    assert project_for_key(key=tenant.key) is not None
    # What another process's revoke leaves behind: the row revoked, the Redis entry gone.
    ApiKey.objects.filter(key=tenant.key).update(revoked_at=timezone.now())
    cache.delete(selectors.key_cache_key(tenant.key))
    clock[0] += 1
    assert project_for_key(key=tenant.key) is not None
    clock[0] += 1.5
    assert project_for_key(key=tenant.key) is None


def test_the_local_copy_can_be_turned_off(tenant, monkeypatch, settings):
    settings.KEY_CACHE_LOCAL_TTL_S = 0
    reads = _count_redis_reads(monkeypatch)
    project_for_key(key=tenant.key)
    project_for_key(key=tenant.key)
    assert len(reads) == 2


def test_guessed_keys_cannot_grow_the_local_copy_without_bound(db, monkeypatch):
    monkeypatch.setattr(selectors, "LOCAL_CACHE_MAX", 5)
    for n in range(12):
        assert project_for_key(key=f"ak_guess{n}") is None
        assert len(selectors._local_cache) <= 5
