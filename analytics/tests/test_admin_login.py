"""The Django admin's login is throttled: 10 failures for one username or from one address
lock further attempts out, the right password included, for at least 5 minutes."""

import time

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test import Client

pytestmark = pytest.mark.django_db

LIMIT = 10
ADDRESS = "203.0.113.5"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Each attempt hashes a password (a real one or a dummy): the production hasher's cost
    # is the point in production and only slowness here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("admin", password="the-right-password-42", is_staff=True, is_superuser=True)


@pytest.fixture
def other_staff(db) -> User:
    return User.objects.create_user("editor", password="another-right-password-42", is_staff=True)


def log_in(username: str, password: str, *, address: str = ADDRESS, **meta):
    client = Client()
    response = client.post(
        "/admin/login/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
        **meta,
    )
    return response, "_auth_user_id" in client.session


def fail(times: int, *, username: str = "admin", address: str = ADDRESS, **meta) -> list[int]:
    statuses = []
    for _ in range(times):
        response, logged_in = log_in(username, "wrong", address=address, **meta)
        assert not logged_in
        statuses.append(response.status_code)
    return statuses


def assert_locked_out(response, logged_in: bool) -> None:
    assert not logged_in
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Too many failed logins" in page
    assert "Django administration" in page  # the admin's own look
    assert int(response["Retry-After"]) >= 300


def test_the_right_password_logs_in(staff):
    response, logged_in = log_in("admin", "the-right-password-42")
    assert (response.status_code, logged_in) == (302, True)


def test_nine_failures_then_the_right_password_logs_in(staff):
    assert fail(LIMIT - 1) == [200] * (LIMIT - 1)  # the form again, with its error
    assert log_in("admin", "the-right-password-42")[1]


def test_the_tenth_failure_gets_the_lockout_page(staff):
    assert fail(LIMIT) == [200] * (LIMIT - 1) + [429]
    assert_locked_out(*log_in("admin", "the-right-password-42"))


def test_ten_failures_for_a_username_lock_it_out_even_with_the_right_password(staff):
    for n in range(LIMIT):
        fail(1, address=f"198.51.100.{n}")  # from ten addresses: the username is what counts
    assert_locked_out(*log_in("admin", "the-right-password-42", address="198.51.100.99"))


def test_ten_failures_from_an_address_lock_it_out_for_every_username(staff, other_staff):
    for n in range(LIMIT):
        fail(1, username=f"guess{n}")
    assert_locked_out(*log_in("editor", "another-right-password-42"))
    assert log_in("editor", "another-right-password-42", address="198.51.100.1")[1]


def test_the_lockout_lasts_at_least_five_minutes(staff):
    fail(LIMIT)
    names = lockout_counters()
    assert len(names) == 2  # one for the username, one for the address
    for name in names:
        assert 300 <= seconds_to_live(name) <= 600


def test_the_address_is_the_client_behind_a_trusted_proxy(staff, other_staff, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    for n in range(LIMIT):
        fail(1, username=f"guess{n}", address="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    via_proxy = {"address": "10.0.0.1"}
    assert_locked_out(*log_in("editor", "another-right-password-42", **via_proxy, HTTP_X_FORWARDED_FOR="198.51.100.7"))
    assert log_in("editor", "another-right-password-42", **via_proxy, HTTP_X_FORWARDED_FOR="198.51.100.8")[1]


def test_an_untrusted_forwarded_for_does_not_escape_the_lockout(staff, other_staff):
    for n in range(LIMIT):
        fail(1, username=f"guess{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert_locked_out(*log_in("editor", "another-right-password-42", HTTP_X_FORWARDED_FOR="192.0.2.200"))


def test_no_address_is_stored_or_logged(staff, log_output):
    fail(LIMIT + 1)
    stored = [(name, str(cache.get(name))) for name in lockout_counters()]
    assert stored and not any(ADDRESS in name or ADDRESS in value for name, value in stored)
    with connection.cursor() as cursor:
        for table in ("axes_accessattempt", "axes_accesslog", "axes_accessfailurelog"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone() == (0,), table
    assert "AXES" in log_output.getvalue()
    assert ADDRESS not in log_output.getvalue()


def lockout_counters() -> list[str]:
    if hasattr(cache, "client"):
        prefix = cache.make_key("")
        return [name.decode()[len(prefix) :] for name in cache.client.get_client().keys(cache.make_key("axes-*"))]
    return [name.split(":", 2)[2] for name in cache._cache if ":axes-" in name]


def seconds_to_live(name: str) -> float:
    if hasattr(cache, "ttl"):
        return cache.ttl(name)
    return cache._expire_info[cache.make_key(name)] - time.time()


def test_without_redis_the_login_works_unthrottled(staff, monkeypatch):
    from axes.handlers.proxy import AxesProxyHandler

    from analytics import degraded

    def unreachable(*args, **kwargs):
        raise ConnectionError("redis is gone")

    counters = AxesProxyHandler.get_implementation().cache
    for method in ("get", "add", "incr", "touch"):
        monkeypatch.setattr(counters, method, unreachable)
    before = degraded.counts()["rateLimit"]
    assert fail(LIMIT + 1) == [200] * (LIMIT + 1)
    assert log_in("admin", "the-right-password-42")[1]
    assert degraded.counts()["rateLimit"] > before
