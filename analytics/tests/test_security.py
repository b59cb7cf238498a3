"""Tenant isolation, the admin key, the Django admin's protections and the Docker image's defaults."""

import hashlib
import json
import re
import subprocess
import sys

import pytest
from django.test import Client

from analytics import api
from analytics.tests.live import ROOT, process_env
from conftest import ADMIN_KEY
from experiments import services as experiments
from experiments.models import Assignment, Conversion
from ingest.models import Event, Session
from ingest.tests.conftest import make_batch
from projects.models import ApiKey, Project

pytestmark = pytest.mark.django_db


def admin_calls(tenant) -> list[tuple[str, str, dict | None]]:
    """Every admin operation, with a body that would succeed with the right key."""
    project = tenant.project.id
    variants = [{"key": "a", "weight": 50}, {"key": "b", "weight": 50}]
    return [
        ("get", "/v1/projects", None),
        ("post", "/v1/projects", {"name": "intruder", "origins": []}),
        ("post", f"/v1/projects/{project}/keys", {"label": "intruder"}),
        ("delete", f"/v1/projects/{project}/keys/{tenant.key}", None),
        ("post", "/v1/experiments", {"projectId": str(project), "key": "intruder", "variants": variants}),
        ("get", f"/v1/experiments/checkout/results?projectId={project}", None),
    ]


def call(client: Client, method: str, path: str, body, **headers):
    data = json.dumps(body) if body is not None else ""
    return client.generic(method.upper(), path, data, content_type="application/json", headers=headers)


@pytest.mark.parametrize(
    "sent",
    [None, "", "x", ADMIN_KEY[:-1], ADMIN_KEY + "x", ADMIN_KEY.upper(), " " + ADMIN_KEY, "a" * len(ADMIN_KEY)],
    ids=["missing", "empty", "short", "prefix", "longer", "case", "padded", "same-length"],
)
def test_admin_endpoints_refuse_a_missing_short_or_wrong_key(settings, tenant, sent):
    settings.ADMIN_API_KEY = ADMIN_KEY
    experiments.create_experiment(project=tenant.project, key="checkout", variants=[("control", 50), ("b", 50)])
    headers = {} if sent is None else {"x-admin-key": sent}
    for method, path, body in admin_calls(tenant):
        response = call(Client(), method, path, body, **headers)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "invalid_admin_key"
    assert Project.objects.count() == 1
    assert ApiKey.objects.get().revoked_at is None


def test_a_browser_key_never_opens_the_admin_api(settings, tenant):
    settings.ADMIN_API_KEY = ADMIN_KEY
    for method, path, body in admin_calls(tenant):
        with_body_key = {**(body or {}), "apiKey": tenant.key}
        assert call(Client(), method, path, with_body_key).status_code == 401
        assert call(Client(), method, path, body, **{"x-admin-key": tenant.key}).status_code == 401


def test_the_admin_key_is_compared_in_constant_time(settings, monkeypatch):
    # Digests of equal length go to hmac.compare_digest whatever was sent, so neither the
    # length nor the first differing character shows in the time taken.
    settings.ADMIN_API_KEY = ADMIN_KEY
    compared = []

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(api.hmac, "compare_digest", spy)
    for sent in ("x", ADMIN_KEY[:-1], ADMIN_KEY + "x" * 500, ADMIN_KEY):
        assert api.admin_key_matches(sent) is (sent == ADMIN_KEY)
    assert len(compared) == 4
    assert {(len(a), len(b)) for a, b in compared} == {(32, 32)}
    assert {b for _, b in compared} == {hashlib.sha256(ADMIN_KEY.encode()).digest()}


def test_without_a_configured_admin_key_nobody_gets_in(settings):
    settings.ADMIN_API_KEY = ""
    assert api.admin_key_matches("") is False
    assert Client(headers={"x-admin-key": ""}).get("/v1/projects").status_code == 401


def test_ingest_takes_the_project_from_the_key_never_from_the_body(client, tenant, other_tenant):
    guessed = str(other_tenant.project.id)
    batch = make_batch(tenant.key, projectId=guessed, project=guessed, project_id=guessed)
    batch["session"]["projectId"] = guessed
    batch["events"][0]["projectId"] = guessed
    response = client.post("/v1/ingest", data=json.dumps(batch), content_type="text/plain")
    assert response.status_code == 202
    assert Event.objects.filter(project=other_tenant.project).count() == 0
    assert Session.objects.filter(project=other_tenant.project).count() == 0
    assert Event.objects.filter(project=tenant.project).count() == len(batch["events"])


@pytest.mark.parametrize("action", ["assign", "convert"])
def test_a_key_cannot_reach_another_projects_experiment_by_its_id(client, tenant, other_tenant, action):
    theirs = experiments.create_experiment(
        project=other_tenant.project, key="pricing", variants=[("control", 50), ("b", 50)]
    )
    for path_key in (str(theirs.id), theirs.key, theirs.pk.hex):
        body = {"apiKey": tenant.key, "anonId": "a1", "goal": "signup", "projectId": str(other_tenant.project.id)}
        response = client.post(f"/v1/experiments/{path_key}/{action}", data=json.dumps(body), content_type="text/plain")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "experiment_not_found"
    assert Assignment.objects.count() == Conversion.objects.count() == 0


def test_a_key_is_only_accepted_from_its_own_projects_origins_on_convert(client, tenant, other_tenant):
    experiments.create_experiment(project=tenant.project, key="checkout", variants=[("control", 50), ("b", 50)])
    body = json.dumps({"apiKey": tenant.key, "anonId": "a1", "goal": "signup"})
    response = client.post(
        "/v1/experiments/checkout/convert",
        data=body,
        content_type="text/plain",
        headers={"Origin": other_tenant.origin},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert Conversion.objects.count() == 0


def test_the_django_admin_needs_a_staff_login(client):
    for path in ("/admin/", "/admin/projects/apikey/", "/admin/ingest/event/", "/admin/experiments/experiment/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_the_admin_login_refuses_a_post_without_its_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/admin/login/", {"username": "admin", "password": "password"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_pages_carry_the_security_headers(client):
    for path in ("/admin/login/", "/v1/health"):
        response = client.get(path)
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"


PRODUCTION_PROBE = """
import django
django.setup()
from django.conf import settings
from django.test import Client
response = Client().get("/admin/login/", secure=True)
cookie = response.cookies["csrftoken"]
print(settings.DEBUG, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY,
      bool(cookie["secure"]), response["Strict-Transport-Security"])
"""


def test_production_settings_make_cookies_secure_and_send_hsts():
    env = process_env(
        DJANGO_SETTINGS_MODULE="analytics.settings",
        DEBUG="false",
        SECRET_KEY="probe-" + "p" * 50,
        ALLOWED_HOSTS="testserver",
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
        REDIS_URL="redis://127.0.0.1:1/0",
        SECURE_HSTS_SECONDS="31536000",
    )
    probe = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert probe.stdout.split() == ["False", "True", "True", "True", "True", "max-age=31536000"]


def dockerfile_env() -> dict[str, str]:
    """The ENV values of the Dockerfile's image (its last stage)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    last_stage = re.split(r"(?im)^FROM\s", text)[-1]
    values: dict[str, str] = {}
    for line in re.findall(r"(?im)^ENV\s+(.+)$", last_stage):
        values.update(re.findall(r"(\w+)=(\S+)", line))
    return values


def test_the_docker_image_never_runs_with_debug_on():
    assert dockerfile_env()["DEBUG"] == "false"
    for name in ("Dockerfile", "docker-entrypoint.sh"):
        assert not re.search(r"DEBUG=(?!false\b)", (ROOT / name).read_text()), name
