"""No browser key or admin key reaches a log line in full."""

import io
import json
import logging

import pytest
from gunicorn.config import Config

from analytics.logs import GunicornLogger, RedactSecrets
from conftest import ADMIN_KEY
from ingest.tests.conftest import make_batch
from projects.models import ApiKey

pytestmark = pytest.mark.django_db

KEY = "ak_" + "K" * 32


def record(message: str, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("test", logging.WARNING, __file__, 1, message, args, exc_info)


def test_it_cuts_a_browser_key_down_to_its_first_characters():
    entry = record("Not Found: %s", f"/v1/projects/p/keys/{KEY}")
    RedactSecrets().filter(entry)
    assert entry.getMessage() == "Not Found: /v1/projects/p/keys/ak_KKKKK…"


def test_it_hides_the_admin_key_and_keys_in_tracebacks(settings):
    settings.ADMIN_API_KEY = ADMIN_KEY
    try:
        raise ValueError(f"bad {KEY}")
    except ValueError as exc:
        entry = record("header was %s", ADMIN_KEY, exc_info=(type(exc), exc, exc.__traceback__))
    RedactSecrets().filter(entry)
    assert ADMIN_KEY not in entry.getMessage()
    assert KEY not in entry.exc_text
    assert "ak_KKKKK…" in entry.exc_text


def test_gunicorn_request_lines_are_cut_down_too():
    config = Config()
    config.set("accesslog", "-")
    gunicorn_logger = GunicornLogger(config)
    lines = io.StringIO()
    gunicorn_logger.access_log.addHandler(logging.StreamHandler(lines))
    gunicorn_logger.access_log.info('"%(r)s" %(s)s', {"r": f"DELETE /v1/projects/p/keys/{KEY} HTTP/1.1", "s": "204"})
    assert KEY not in lines.getvalue()
    assert "ak_KKKKK…" in lines.getvalue()


def test_no_key_reaches_the_log_across_the_api(client, settings, log_output, django_capture_on_commit_callbacks):
    settings.ADMIN_API_KEY = ADMIN_KEY
    admin = {"HTTP_X_ADMIN_KEY": ADMIN_KEY}

    def post(path, body, **extra):
        return client.post(path, data=json.dumps(body), content_type="application/json", **extra)

    project_id = post("/v1/projects", {"name": "site", "origins": []}, **admin).json()["id"]
    key = post(f"/v1/projects/{project_id}/keys", {"label": "web"}, **admin).json()["key"]
    post(
        "/v1/experiments",
        {"projectId": project_id, "key": "hero", "variants": [{"key": "a", "weight": 50}, {"key": "b", "weight": 50}]},
        **admin,
    )
    assert post("/v1/ingest", make_batch(key)).status_code == 202
    assert post("/v1/experiments/hero/assign", {"apiKey": key, "anonId": "a1"}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/v1/projects/{project_id}/keys/{key}", **admin).status_code == 204
    failing = {
        "revoked key": post("/v1/ingest", make_batch(key)),
        "revoked key, assign": post("/v1/experiments/hero/assign", {"apiKey": key, "anonId": "a1"}),
        "wrong admin key": client.delete(f"/v1/projects/{project_id}/keys/{key}", HTTP_X_ADMIN_KEY=ADMIN_KEY[:-1]),
        "unknown key": client.delete(f"/v1/projects/{project_id}/keys/{KEY}", **admin),
    }
    assert [response.status_code for response in failing.values()] == [401, 401, 401, 404]
    written = log_output.getvalue()
    assert f"Unauthorized: /v1/projects/{project_id}/keys/{key[:8]}…" in written  # Django logs 4xx paths
    assert "minted key" in written and "revoked key" in written
    for secret in (key, KEY, ADMIN_KEY, *ApiKey.objects.values_list("key", flat=True)):
        assert secret not in written
