"""JavaScript files the service serves itself (the SDK, the heatmap overlay): read and
compressed once, at import, so a new copy ships with a deploy (and a restart)."""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from django.http import HttpRequest, HttpResponse

ACCEPTS_GZIP = re.compile(r"\bgzip\b")


@dataclass(frozen=True)
class ScriptFile:
    source: bytes
    gzipped: bytes
    etag: str
    gzip_etag: str

    @classmethod
    def read(cls, path: Path) -> ScriptFile:
        source = path.read_bytes()
        digest = hashlib.sha256(source).hexdigest()[:20]
        # At the highest level and without a timestamp, so every worker sends the same bytes.
        gzipped = gzip.compress(source, compresslevel=9, mtime=0)
        return cls(source=source, gzipped=gzipped, etag=f'"{digest}"', gzip_etag=f'"{digest}-gzip"')

    def response(self, request: HttpRequest, *, headers: dict[str, str]) -> HttpResponse:
        """The file, gzipped when the browser takes it, with the ETag of the bytes sent (wrap the
        view in conditional_page to answer revalidations with 304)."""
        headers = {**headers, "Vary": "Accept-Encoding"}
        if ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")):
            body = self.gzipped
            headers.update({"Content-Encoding": "gzip", "ETag": self.gzip_etag})
        else:
            body = self.source
            headers["ETag"] = self.etag
        return HttpResponse(body, content_type="application/javascript; charset=utf-8", headers=headers)
