import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects import services
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
        services.update_project(project=tenant.project, name="shop", origins=["https://new.example"], filter_bots=True)
    assert project_for_key(key=tenant.key).origins == frozenset({"https://new.example"})


def test_a_key_minted_after_a_failed_guess_works(tenant, monkeypatch):
    guessed = "ak_" + "g" * 32
    assert project_for_key(key=guessed) is None
    monkeypatch.setattr("secrets.token_urlsafe", lambda n: "g" * 32)
    services.mint_key(project=tenant.project)
    assert project_for_key(key=guessed).id == tenant.project.id
