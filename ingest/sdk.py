"""GET /v1/sdk.js: the browser SDK (ingest/sdk/analytics.js), served by the service itself.

The file is read once at import, so a new SDK ships with a deploy (and a restart).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import conditional_page, require_safe

SDK_PATH = Path(__file__).resolve().parent / "sdk" / "analytics.js"
SOURCE = SDK_PATH.read_bytes()
VERSION = re.search(rb'const VERSION = "([^"]+)"', SOURCE).group(1).decode()
ETAG = '"' + hashlib.sha256(SOURCE).hexdigest()[:20] + '"'

# The snippet asks for ?v=<VERSION>: that URL never changes content, so browsers keep it a year.
# Any other URL may be a newer SDK tomorrow, so it is cached for an hour, then revalidated by ETag.
VERSIONED_CACHE = "public, max-age=31536000, immutable"
UNVERSIONED_CACHE = "public, max-age=3600"


@require_safe
@conditional_page  # outside the gzip, so If-None-Match meets the ETag as sent (weak once gzipped)
@gzip_page
def serve_sdk(request: HttpRequest) -> HttpResponse:
    versioned = request.GET.get("v") == VERSION
    return HttpResponse(
        SOURCE,
        content_type="application/javascript; charset=utf-8",
        headers={
            "Cache-Control": VERSIONED_CACHE if versioned else UNVERSIONED_CACHE,
            "ETag": ETAG,
            # Pages that isolate themselves (COEP require-corp) may still load it.
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )
