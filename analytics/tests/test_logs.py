"""No browser key or admin key reaches a log line in full."""

import io
import json
import logging
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import quote, unquote

import pytest
from gunicorn.config import Config

from analytics.logs import BROWSER_KEY, GunicornLogger, RedactSecrets
from analytics.tests.conftest import needs_live_stack
from analytics.tests.live import ADMIN_KEY as LIVE_ADMIN_KEY
from analytics.tests.live import call
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


def percent_encoded(text: str, *, only: str | None = None, times: int = 1) -> str:
    """`text` with every character (or only those in `only`) written as %XX, `times` over."""
    for _ in range(times):
        text = "".join(f"%{ord(c):02X}" if only is None or c in only else c for c in text)
    return text


def readings(text: str) -> list[str]:
    """The text as written and as a reader would decode it, once or several times."""
    found = [text]
    for _ in range(3):
        found.append(unquote(found[-1]))
    return found


def assert_holds_no_secret(text: str, *secrets: str) -> None:
    for reading in readings(text):
        for secret in secrets:
            assert secret not in reading, (secret, text)
        assert not BROWSER_KEY.search(reading), text


ENCODINGS = {
    "prefix": KEY.replace("ak_", "ak%5F"),
    "prefix, lower-case hex": KEY.replace("ak_", "ak%5f"),
    "one character in the middle": KEY[:10] + "%4B" + KEY[11:],
    "one character early": KEY[:4] + "%4B" + KEY[5:],
    "every character": percent_encoded(KEY),
    "twice": percent_encoded(KEY, only="_K", times=2),
}


@pytest.mark.parametrize("sent", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_a_percent_encoded_browser_key_is_cut_down_too(sent):
    entry = record('"DELETE /v1/projects/p/keys/%s?x=1%%20y HTTP/1.1" 204', sent)
    RedactSecrets().filter(entry)
    assert_holds_no_secret(entry.getMessage(), KEY)
    assert "/v1/projects/p/keys/ak_KKKKK…" in entry.getMessage()


def test_a_percent_encoded_admin_key_is_hidden_too(settings):
    settings.ADMIN_API_KEY = "admin key/with odd=chars&0123456789"
    for sent in (quote(settings.ADMIN_API_KEY, safe=""), percent_encoded(settings.ADMIN_API_KEY)):
        entry = record("GET /v1/projects?k=%s", sent)
        RedactSecrets().filter(entry)
        assert_holds_no_secret(entry.getMessage(), settings.ADMIN_API_KEY)
        assert "[admin key]" in entry.getMessage()


def test_decoding_a_line_to_find_a_key_writes_no_control_characters():
    entry = record("GET /v1/x?a=%s&b=%s", "%0Afake line", KEY.replace("_", "%5F"))
    RedactSecrets().filter(entry)
    assert "\n" not in entry.getMessage()
    assert_holds_no_secret(entry.getMessage(), KEY)


def test_lines_without_a_key_are_left_as_they_are():
    message = "GET /v1/x?q=100%25%20sure&path=%2Fak%5F HTTP/1.1"
    entry = record(message)
    RedactSecrets().filter(entry)
    assert entry.getMessage() == message


def gunicorn_access_line(raw_uri: str, *, log_format: str | None = None, **environ: str) -> str:
    config = Config()
    config.set("accesslog", "-")
    if log_format is not None:
        config.set("access_log_format", log_format)
    gunicorn_logger = GunicornLogger(config)
    lines = io.StringIO()
    gunicorn_logger.access_log.handlers = [logging.StreamHandler(lines)]
    path, _, query = raw_uri.partition("?")
    environ = {
        "REQUEST_METHOD": "DELETE",
        "RAW_URI": raw_uri,
        "PATH_INFO": unquote(path),
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_X_FORWARDED_FOR": "198.51.100.7",
        **environ,
    }
    response = SimpleNamespace(status="204 No Content", sent=0, headers=[])
    request = SimpleNamespace(headers=[("X-FORWARDED-FOR", "198.51.100.7")])
    gunicorn_logger.access(response, request, environ, timedelta(milliseconds=3))
    return lines.getvalue()


@pytest.mark.parametrize("sent", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_gunicorn_access_lines_hold_no_key_in_any_encoding(sent):
    line = gunicorn_access_line(f"/v1/projects/p/keys/{sent}?apiKey={sent}", HTTP_REFERER=f"https://x.example/{sent}")
    assert "204" in line
    assert_holds_no_secret(line, KEY)


def test_no_key_reaches_the_app_log_in_any_encoding(client, settings, tenant, log_output):
    settings.ADMIN_API_KEY = ADMIN_KEY
    admin = {"HTTP_X_ADMIN_KEY": ADMIN_KEY}
    project = tenant.project.id
    for sent in [*ENCODINGS.values(), percent_encoded(tenant.key, only="_")]:
        client.delete(f"/v1/projects/{project}/keys/{sent}?apiKey={sent}", **admin)
        client.get(f"/v1/health?k={sent}", headers={"Host": sent})
    client.get(f"/v1/nowhere/{percent_encoded(ADMIN_KEY)}")
    assert ApiKey.objects.get(key=tenant.key).revoked_at is not None  # the encoded key was the key
    written = log_output.getvalue()
    assert "bad Host" in written and "Not Found" in written
    assert_holds_no_secret(written, KEY, tenant.key, ADMIN_KEY)


@needs_live_stack
def test_no_key_reaches_gunicorns_log_in_any_encoding(stack):
    project = stack.project.id
    for sent in [
        percent_encoded(stack.key, only="_"),
        stack.key[:9] + percent_encoded(stack.key[9:10]) + stack.key[10:],
    ]:
        path = f"/v1/projects/{project}/keys/{sent}?apiKey={sent}"
        answer = call(stack.server.port, "DELETE", path, headers={"x-admin-key": LIVE_ADMIN_KEY, "Referer": sent})
        assert answer.status in (204, 404)
    stack.assert_log_holds_no_key()
    log = stack.server.log()
    assert f"/v1/projects/{project}/keys/ak_" in log  # the access log did write the request lines
    assert_holds_no_secret(log, stack.key, LIVE_ADMIN_KEY)


@pytest.mark.parametrize(
    "log_format",
    [None, '%(h)s "%(r)s" %({x-forwarded-for}i)s %({x-real-ip}i)s %({remote_addr}e)s %({http_x_forwarded_for}e)s'],
    ids=["default format", "address atoms"],
)
def test_gunicorn_access_lines_hold_no_client_address(log_format):
    line = gunicorn_access_line("/v1/health", log_format=log_format)
    assert "/v1/health" in line
    assert "203.0.113.9" not in line and "198.51.100.7" not in line
