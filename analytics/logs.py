"""Log hygiene: no browser key or admin key reaches a log line in full.

Keys travel in URL paths (revoking one is DELETE /v1/projects/:id/keys/:key), and Django logs
the path of every 4xx answer and gunicorn the request line of every request, so the keys are
cut down where the lines are written rather than at each place that might log one.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

from django.conf import settings
from gunicorn import glogging

# A browser key keeps the 8 characters the services log (ak_ and 5 more), enough to tell keys apart.
BROWSER_KEY = re.compile(r"(ak_[A-Za-z0-9_-]{5})[A-Za-z0-9_-]{6,}")


# Percent-encoding hides nothing from whoever reads the log (ak%5F... is a key), so a line is
# also searched decoded, as often as a reader might decode it.
DECODE_ROUNDS = 3
# What a decoded %0A or %1B would write: a forged log line, a terminal escape.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _cut_keys(text: str) -> str:
    text = BROWSER_KEY.sub(r"\1…", text)
    admin_key = settings.ADMIN_API_KEY
    if admin_key:
        text = text.replace(admin_key, "[admin key]")
    return text


def redact(text: str) -> str:
    text = _cut_keys(text)
    decoded = text
    for _ in range(DECODE_ROUNDS):
        if "%" not in decoded:
            break
        decoded = unquote(decoded)
        cut = _cut_keys(decoded)
        if cut != decoded:
            # A key that only decoding shows: the line is written decoded, with its keys cut
            # down and the characters decoding brought in escaped.
            return CONTROL_CHARACTERS.sub(lambda found: found.group().encode("unicode_escape").decode(), cut)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message (and traceback) with the keys in it cut down."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class DropTraceback(logging.Filter):
    """For records whose message says it all: the traceback of where Django noticed it is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


# The atoms of an access-log format that hold the client's address, which is never logged.
ADDRESS_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded", "true-client-ip", "cf-connecting-ip")
ADDRESS_ATOMS = frozenset(
    ["h", "{remote_addr}e", *(f"{{{name}}}i" for name in ADDRESS_HEADERS)]
    + [f"{{http_{name.replace('-', '_')}}}e" for name in ADDRESS_HEADERS]
)


class GunicornLogger(glogging.Logger):
    """gunicorn's logger (its error log and the access log's request lines), redacted, and
    its access log without the client's address, whatever `access_log_format` asks for."""

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ADDRESS_ATOMS.intersection(atoms):
            atoms[name] = "-"
        return atoms

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.addFilter(RedactSecrets())
