"""The service's URLs plus /v1 views that fail the ways Django itself answers, for test_json_errors."""

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import path

from analytics.urls import handler404, handler500
from analytics.urls import urlpatterns as service_urlpatterns


def permission_denied(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("odd input")


def bad_request(request: HttpRequest) -> HttpResponse:
    raise BadRequest("unparseable")


def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internals")


def only_get(request: HttpRequest) -> HttpResponse:
    return HttpResponseNotAllowed(["GET"])


def csrf_protected(request: HttpRequest) -> HttpResponse:
    return HttpResponse("{}", content_type="application/json")


urlpatterns = [
    path("v1/test/permission-denied", permission_denied),
    path("v1/test/suspicious", suspicious),
    path("v1/test/bad-request", bad_request),
    path("v1/test/crash", crash),
    path("v1/test/only-get", only_get),
    path("v1/test/csrf-protected", csrf_protected),
    *service_urlpatterns,
]

__all__ = ["handler404", "handler500", "urlpatterns"]
