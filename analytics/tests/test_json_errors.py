"""Every answer under /v1 is the API's JSON, errors Django answers itself included."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

ERROR_SHAPE = {"error"}


def assert_json_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == ERROR_SHAPE
    assert set(body["error"]) <= {"code", "message", "details"}
    if code is not None:
        assert body["error"]["code"] == code
    if response.has_header("Content-Length"):
        assert int(response["Content-Length"]) == len(response.content)
    return body["error"]


@pytest.mark.parametrize("method", ["get", "post", "options"])
@pytest.mark.parametrize("path", ["/v1/health", "/v1/ingest", "/v1/projects", "/v1/nowhere"])
def test_a_host_not_in_allowed_hosts_gets_a_json_400(client, log_output, method, path):
    response = getattr(client, method)(path, headers={"Host": "evil.example"})
    error = assert_json_error(response, 400, "bad_host")
    assert "evil.example" not in error["message"]
    [line] = log_output.getvalue().splitlines()
    assert "evil.example" in line and "Traceback" not in line


def test_a_bad_host_is_one_line_even_with_an_ssl_redirect(client, settings, log_output):
    settings.SECURE_SSL_REDIRECT = True
    assert_json_error(client.get("/v1/health", headers={"Host": "evil.example"}), 400, "bad_host")
    assert len(log_output.getvalue().splitlines()) == 1


def test_a_bad_host_outside_the_api_is_logged_without_a_traceback(client, log_output):
    response = client.get("/admin/login/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    written = log_output.getvalue()
    assert "evil.example" in written
    assert "Traceback" not in written and len(written.splitlines()) == 1


def test_an_unknown_path_is_a_json_404_with_debug_on_too(client, settings):
    assert_json_error(client.get("/v1/nowhere"), 404, "not_found")
    settings.DEBUG = True
    assert_json_error(client.get("/v1/nowhere"), 404, "not_found")


def test_the_sdk_answers_a_failed_precondition_in_json(client):
    assert_json_error(client.get("/v1/sdk.js", headers={"If-Match": '"not-it"'}), 412)


@pytest.mark.urls("analytics.tests.error_urls")
@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/test/permission-denied", 403, "forbidden"),
        ("/v1/test/suspicious", 400, "bad_request"),
        ("/v1/test/bad-request", 400, "bad_request"),
        ("/v1/test/only-get", 405, "method_not_allowed"),
        ("/v1/test/crash", 500, "internal_error"),
    ],
)
@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_errors_django_answers_itself_are_json_under_v1(settings, path, status, code, debug):
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    error = assert_json_error(client.post(path), status, code)
    assert "secret internals" not in error["message"]


@pytest.mark.urls("analytics.tests.error_urls")
def test_a_csrf_failure_under_v1_is_json():
    response = Client(enforce_csrf_checks=True).post("/v1/test/csrf-protected")
    assert_json_error(response, 403, "forbidden")


@pytest.mark.urls("analytics.tests.error_urls")
def test_the_json_answer_keeps_the_headers_of_the_page_it_replaces(client):
    response = client.put("/v1/test/only-get")
    assert response["Allow"] == "GET"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_outside_the_api_stay_pages(client):
    response = client.get("/admin/nowhere/")
    assert response.status_code in (302, 404)
    assert not response["Content-Type"].startswith("application/json")


def api_paths() -> list[str]:
    """Every route under /v1, its parameters filled in with values that match nothing."""
    found = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("v1/"):
                found.append("/" + re.sub(r"<(?:\w+:)?\w+>", "nothing", route))

    walk(get_resolver().url_patterns, "")
    return found


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "TRACE"])
def test_every_error_of_every_api_route_is_json(admin_api, method):
    paths = api_paths()
    assert "/v1/ingest" in paths and "/v1/projects/nothing/keys/nothing" in paths
    for path in paths:
        for client in (Client(raise_request_exception=False), admin_api):
            response = client.generic(method, path, "{not json", content_type="application/json")
            if response.status_code >= 400 and method != "HEAD":
                assert_json_error(response, response.status_code)
