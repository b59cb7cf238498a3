"""GET /v1/sdk.js: the browser SDK (ingest/sdk/analytics.js), served by the service itself."""

from __future__ import annotations

import re
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import conditional_page

from analytics.http import plain_api_view
from analytics.scripts import ScriptFile

SDK_PATH = Path(__file__).resolve().parent / "sdk" / "analytics.js"
SCRIPT = ScriptFile.read(SDK_PATH)
SOURCE = SCRIPT.source
ETAG = SCRIPT.etag
VERSION = re.search(rb'const VERSION = "([^"]+)"', SOURCE).group(1).decode()

# The snippet asks for ?v=<VERSION>: that URL never changes content, so browsers keep it a year.
# Any other URL may be a newer SDK tomorrow, so it is cached for an hour, then revalidated by ETag.
VERSIONED_CACHE = "public, max-age=31536000, immutable"
UNVERSIONED_CACHE = "public, max-age=3600"


@plain_api_view("GET", "HEAD")
@conditional_page
def serve_sdk(request: HttpRequest) -> HttpResponse:
    return SCRIPT.response(
        request,
        headers={
            "Cache-Control": VERSIONED_CACHE if request.GET.get("v") == VERSION else UNVERSIONED_CACHE,
            # Pages that isolate themselves (COEP require-corp) may still load it.
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )
