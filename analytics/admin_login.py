"""The Django admin's login throttle (django-axes, configured by AXES_* in settings): what it
knows of the client's address, and the page a locked-out login gets."""

from __future__ import annotations

from typing import Any

from axes.handlers.cache import AxesCacheHandler
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from analytics.degraded import fail_open
from analytics.http import address_digest, client_ip


class FailOpenCacheHandler(AxesCacheHandler):
    """axes' cache handler, failing open as the API's rate limit does: while Redis is
    unreachable logins are checked by password alone (counted and logged as `rateLimit` in
    analytics.degraded), rather than the admin answering 500 to everyone."""

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        return fail_open("rateLimit", 0, super().get_failures, request, credentials)

    def user_login_failed(self, sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
        fail_open("rateLimit", None, super().user_login_failed, sender, credentials, request, **kwargs)


def client_digest(request: HttpRequest) -> str:
    """The client's address as axes sees it: a keyed digest, so no cache key, attempt record
    or log line of axes can hold the address, and TRUSTED_PROXIES decide it as everywhere."""
    return address_digest("admin-login", client_ip(request))


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: Any) -> HttpResponse:
    """A page in the admin's look, 429, saying when to come back (not which counter tripped)."""
    cool_off = int(settings.AXES_COOLOFF_TIME.total_seconds())
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed logins",
        "cool_off_minutes": cool_off // 60,
    }
    response = TemplateResponse(request, "admin/locked_out.html", context, status=429)
    response["Retry-After"] = str(cool_off)
    return response.render()
