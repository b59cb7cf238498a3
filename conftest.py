"""Fixtures shared by every app's tests: two tenants, the admin key, a clean cache."""

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.test import Client

from projects import services
from projects.models import Project

ADMIN_KEY = "test-admin-key-0123456789abcdef"


@dataclass
class Tenant:
    project: Project
    key: str
    origin: str


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin_api(settings) -> Client:
    """A client that sends the right x-admin-key."""
    settings.ADMIN_API_KEY = ADMIN_KEY
    return Client(headers={"x-admin-key": ADMIN_KEY})


def _make_tenant(name: str, origin: str) -> Tenant:
    project = services.create_project(name=name, origins=[origin])
    api_key = services.mint_key(project=project, label="web")
    return Tenant(project=project, key=api_key.key, origin=origin)


@pytest.fixture
def tenant(db) -> Tenant:
    return _make_tenant("shop", "https://shop.example")


@pytest.fixture
def other_tenant(db) -> Tenant:
    """A second project: nothing done with `tenant`'s key may ever reach it, and back."""
    return _make_tenant("blog", "https://blog.example")


@pytest.fixture
def revoked_key(tenant) -> str:
    api_key = services.mint_key(project=tenant.project, label="old")
    services.revoke_key(api_key=api_key)
    return api_key.key
