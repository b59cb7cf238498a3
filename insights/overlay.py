"""Heatmaps on the live page: the signed token that lets a page of a project read its own bins.

The heatmap page of the admin links to the project's site with a token in the URL fragment
(never sent to the site's server, nor in a Referer). The SDK, seeing it, loads the overlay
script, which asks POST /overlay/heatmap for the bins of that page with the token. A token
is read-only and narrow: one project, one path, an hour; it is signed with SECRET_KEY under
its own salt, so no other signed value of the service passes for one, nor one for them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core import signing

from analytics.errors import ApiError, invalid_field

SALT = "insights.overlay.heatmap"
TOKEN_LIFETIME = timedelta(hours=1)
# A token holds a path of at most MAX_PATH_LENGTH characters; anything much longer is no token.
MAX_TOKEN_LENGTH = 8192
FRAGMENT_NAME = "analytics-heatmap"
# The ranges the overlay offers, in days up to today included, as the admin's presets.
OVERLAY_DAYS = (7, 30)


@dataclass(frozen=True)
class OverlayGrant:
    """What a token with a good signature says; `check_overlay_grant` says whether it holds."""

    project_id: uuid.UUID
    path: str
    expires_at: datetime


def issue_overlay_token(*, project_id: uuid.UUID, path: str, now: datetime) -> str:
    expires = int((now + TOKEN_LIFETIME).timestamp())
    return signing.dumps({"project": str(project_id), "path": path, "exp": expires}, salt=SALT)


def _invalid_token() -> ApiError:
    return ApiError(401, "invalid_overlay_token", "The heatmap token is malformed or its signature does not match.")


def unsign_overlay_token(*, token: Any) -> OverlayGrant:
    """The token's claims, once its signature is good (its expiry and scope unchecked)."""
    if not isinstance(token, str) or not token:
        raise ApiError(401, "missing_overlay_token", "token is required: open the page from the admin's heatmap.")
    if len(token) > MAX_TOKEN_LENGTH:
        raise _invalid_token()
    try:
        claims = signing.loads(token, salt=SALT)
        return OverlayGrant(
            project_id=uuid.UUID(claims["project"]),
            path=str(claims["path"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError):
        raise _invalid_token() from None


def check_overlay_grant(*, grant: OverlayGrant, project_id: Any, path: str, now: datetime) -> None:
    """Refuses a grant that has expired, or is for another project or page than asked for."""
    if now >= grant.expires_at:
        raise ApiError(
            401,
            "overlay_token_expired",
            "The heatmap token has expired; open the page again from the admin's heatmap.",
            details={"expiredAt": grant.expires_at.isoformat().replace("+00:00", "Z")},
        )
    if not isinstance(project_id, str) or not project_id:
        raise invalid_field("project", "is required: the project's id.")
    try:
        same_project = uuid.UUID(project_id) == grant.project_id
    except ValueError:
        same_project = False
    if not same_project:
        raise ApiError(403, "overlay_token_wrong_project", "The heatmap token is for another project.")
    if path != grant.path:
        raise ApiError(
            403,
            "overlay_token_wrong_path",
            "The heatmap token is for another page of the site.",
            details={"path": grant.path},
        )


def parse_days(raw: Any) -> int:
    if raw in (None, ""):
        return OVERLAY_DAYS[0]
    if isinstance(raw, int) and not isinstance(raw, bool) and raw in OVERLAY_DAYS:
        return raw
    raise invalid_field("days", f"must be one of: {', '.join(map(str, OVERLAY_DAYS))}.")


def overlay_link(*, origin: str, path: str, token: str, kind: str) -> str:
    """The project's page with the token (and the heatmap to show first) in the fragment,
    where the SDK looks for it."""
    return f"{origin}{path}#{FRAGMENT_NAME}={token}&kind={kind}"
