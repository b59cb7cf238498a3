import io
import json

import pytest
from django.test import RequestFactory

from analytics.middleware import BodyLimitMiddleware
from projects.models import Project

pytestmark = pytest.mark.django_db


def echo_length(request):
    from django.http import HttpResponse

    return HttpResponse(str(len(request.body)))


def test_it_refuses_a_body_over_the_cap_before_reading_it(admin_api, settings):
    settings.MAX_BODY_BYTES = 100
    body = json.dumps({"name": "x" * 100, "origins": []})
    response = admin_api.post("/v1/projects", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert Project.objects.count() == 0


def test_it_accepts_a_body_exactly_at_the_cap(admin_api, settings):
    body = json.dumps({"name": "shop", "origins": []})
    settings.MAX_BODY_BYTES = len(body)
    response = admin_api.post("/v1/projects", data=body, content_type="application/json")
    assert response.status_code == 201


def chunked_request(body: bytes):
    request = RequestFactory().post("/v1/ingest", data=b"", content_type="text/plain")
    request.META.pop("CONTENT_LENGTH", None)
    request.META["HTTP_TRANSFER_ENCODING"] = "chunked"
    request.META["wsgi.input"] = io.BytesIO(body)
    return request


def test_it_reads_a_chunked_body_within_the_cap(settings):
    settings.MAX_BODY_BYTES = 200_000
    response = BodyLimitMiddleware(echo_length)(chunked_request(b"x" * 150_000))
    assert response.status_code == 200
    assert response.content == b"150000"


def test_it_refuses_a_chunked_body_one_byte_over_the_cap(settings):
    settings.MAX_BODY_BYTES = 100_000
    response = BodyLimitMiddleware(echo_length)(chunked_request(b"x" * 100_001))
    assert response.status_code == 413
    assert json.loads(response.content)["error"]["code"] == "body_too_large"


def test_it_refuses_a_content_length_that_is_not_a_number():
    request = RequestFactory().post("/v1/ingest", data=b"{}", content_type="text/plain")
    request.META["CONTENT_LENGTH"] = "ten"
    response = BodyLimitMiddleware(echo_length)(request)
    assert response.status_code == 400
    assert json.loads(response.content)["error"]["code"] == "invalid_content_length"


def test_it_answers_a_crash_in_json_without_a_trace(admin_api, monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("projects.selectors.list_projects", crash)
    admin_api.raise_request_exception = False
    response = admin_api.get("/v1/projects")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}
