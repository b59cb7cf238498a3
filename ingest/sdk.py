"""GET /v1/sdk.js: the browser SDK (ingest/sdk/analytics.js), served by the service itself.

The file is read and compressed once, at import: a new SDK ships with a deploy (and a restart).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import conditional_page, require_safe

SDK_PATH = Path(__file__).resolve().parent / "sdk" / "analytics.js"
SOURCE = SDK_PATH.read_bytes()
# At the highest level and without a timestamp, so every worker sends the same bytes.
GZIPPED = gzip.compress(SOURCE, compresslevel=9, mtime=0)
VERSION = re.search(rb'const VERSION = "([^"]+)"', SOURCE).group(1).decode()
_DIGEST = hashlib.sha256(SOURCE).hexdigest()[:20]
ETAG = f'"{_DIGEST}"'
GZIP_ETAG = f'"{_DIGEST}-gzip"'
ACCEPTS_GZIP = re.compile(r"\bgzip\b")

# The snippet asks for ?v=<VERSION>: that URL never changes content, so browsers keep it a year.
# Any other URL may be a newer SDK tomorrow, so it is cached for an hour, then revalidated by ETag.
VERSIONED_CACHE = "public, max-age=31536000, immutable"
UNVERSIONED_CACHE = "public, max-age=3600"


@require_safe
@conditional_page
def serve_sdk(request: HttpRequest) -> HttpResponse:
    headers = {
        "Cache-Control": VERSIONED_CACHE if request.GET.get("v") == VERSION else UNVERSIONED_CACHE,
        "Vary": "Accept-Encoding",
        # Pages that isolate themselves (COEP require-corp) may still load it.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")):
        body = GZIPPED
        headers.update({"Content-Encoding": "gzip", "ETag": GZIP_ETAG})
    else:
        body = SOURCE
        headers["ETag"] = ETAG
    return HttpResponse(body, content_type="application/javascript; charset=utf-8", headers=headers)
