"""Heatmaps on the live page: the signed token, POST /overlay/heatmap, the overlay script and
the admin's "Open on the site" link."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core import signing
from django.utils import timezone

from analytics.errors import ApiError
from ingest.tests.factories import make_sample, make_session
from insights import overlay_views
from insights.heatmap_png import STOPS
from insights.overlay import SALT, OverlayGrant, check_overlay_grant, issue_overlay_token, unsign_overlay_token

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
URL = "/overlay/heatmap"


def read_overlay_token(*, token, project_id, path: str, now: datetime) -> OverlayGrant:
    """What the bins endpoint checks of a token, in its order."""
    grant = unsign_overlay_token(token=token)
    check_overlay_grant(grant=grant, project_id=project_id, path=path, now=now)
    return grant


def refusal(**kwargs) -> ApiError:
    with pytest.raises(ApiError) as caught:
        read_overlay_token(**kwargs)
    return caught.value


# The token


def test_a_fresh_token_grants_its_project_and_path(tenant):
    token = issue_overlay_token(project_id=tenant.project.id, path="/pricing", now=NOW)

    grant = read_overlay_token(
        token=token, project_id=str(tenant.project.id), path="/pricing", now=NOW + timedelta(minutes=59)
    )

    assert grant.project_id == tenant.project.id
    assert grant.path == "/pricing"
    assert grant.expires_at == datetime(2025, 3, 10, 13, 0, tzinfo=UTC)


def test_it_rejects_an_expired_token(tenant):
    token = issue_overlay_token(project_id=tenant.project.id, path="/pricing", now=NOW)

    error = refusal(token=token, project_id=str(tenant.project.id), path="/pricing", now=NOW + timedelta(hours=1))

    assert (error.status, error.code) == (401, "overlay_token_expired")
    assert error.details == {"expiredAt": "2025-03-10T13:00:00Z"}


def test_it_rejects_a_token_for_another_path(tenant):
    token = issue_overlay_token(project_id=tenant.project.id, path="/pricing", now=NOW)

    error = refusal(token=token, project_id=str(tenant.project.id), path="/pricing/", now=NOW)

    assert (error.status, error.code) == (403, "overlay_token_wrong_path")


def test_it_rejects_a_token_for_another_tenant(tenant, other_tenant):
    token = issue_overlay_token(project_id=tenant.project.id, path="/pricing", now=NOW)

    error = refusal(token=token, project_id=str(other_tenant.project.id), path="/pricing", now=NOW)

    assert (error.status, error.code) == (403, "overlay_token_wrong_project")


@pytest.mark.parametrize("project_id", ["not-a-uuid", str(uuid.uuid4())])
def test_it_rejects_a_token_for_another_project(tenant, project_id):
    token = issue_overlay_token(project_id=tenant.project.id, path="/pricing", now=NOW)

    assert refusal(token=token, project_id=project_id, path="/pricing", now=NOW).code == "overlay_token_wrong_project"


def test_it_rejects_a_tampered_token(tenant, other_tenant):
    token = issue_overlay_token(project_id=tenant.project.id, path="/pricing", now=NOW)
    claims, signature = token.split(":", 1)
    # The other tenant's id in the claims, the signature left as it was.
    forged = signing.b64_encode(
        json.dumps({"project": str(other_tenant.project.id), "path": "/pricing", "exp": 1741611600}).encode()
    ).decode()

    for bad in (f"{forged}:{signature}", token[:-1] + ("A" if token[-1] != "A" else "B"), "garbage", claims):
        error = refusal(token=bad, project_id=str(other_tenant.project.id), path="/pricing", now=NOW)
        assert (error.status, error.code) == (401, "invalid_overlay_token"), bad


def test_it_rejects_a_value_signed_for_another_purpose(tenant):
    claims = {"project": str(tenant.project.id), "path": "/pricing", "exp": int(NOW.timestamp()) + 60}

    for token in (signing.dumps(claims), signing.dumps(claims, salt=SALT + "x")):
        error = refusal(token=token, project_id=str(tenant.project.id), path="/pricing", now=NOW)
        assert error.code == "invalid_overlay_token"


@pytest.mark.parametrize("token", [None, "", 7])
def test_it_rejects_a_missing_token(tenant, token):
    error = refusal(token=token, project_id=str(tenant.project.id), path="/pricing", now=NOW)
    assert (error.status, error.code) == (401, "missing_overlay_token")


def test_the_token_holds_no_key(tenant, settings):
    settings.ADMIN_API_KEY = "test-admin-key-0123456789abcdef"
    token = issue_overlay_token(project_id=tenant.project.id, path="/pricing", now=NOW)

    assert tenant.key not in token
    assert settings.ADMIN_API_KEY not in signing.b64_decode(token.split(":")[0].encode()).decode()
    assert json.loads(signing.b64_decode(token.split(":")[0].encode())) == {
        "project": str(tenant.project.id),
        "path": "/pricing",
        "exp": int((NOW + timedelta(hours=1)).timestamp()),
    }


# POST /overlay/heatmap


def recent(**delta) -> str:
    return (timezone.now() - timedelta(**delta)).replace(tzinfo=None).isoformat()


@pytest.fixture
def clicked(tenant, other_tenant):
    """On /pricing: two sessions click the same bin an hour ago, one 20 days ago; and noise."""
    first, second = make_session(tenant.project), make_session(tenant.project)
    make_sample(first, x=500, y=300, vw=1000, path="/pricing", when=recent(hours=1))  # bin (25, 15)
    make_sample(second, x=640, y=384, vw=1280, path="/pricing", when=recent(hours=1))  # bin (25, 15)
    make_sample(first, x=10, y=10, vw=1000, path="/pricing", when=recent(days=20))  # bin (0, 0)
    make_sample(first, x=0, y=400, kind="scroll", vw=1000, vh=800, path="/pricing", when=recent(hours=1))
    make_sample(first, x=500, y=300, kind="move", path="/pricing", when=recent(hours=1))
    make_sample(first, x=500, y=300, path="/", when=recent(hours=1))
    make_sample(make_session(other_tenant.project), x=500, y=300, path="/pricing", when=recent(hours=1))
    return tenant


def ask(client, tenant, *, headers=None, **fields):
    body = {
        "token": issue_overlay_token(project_id=tenant.project.id, path="/pricing", now=timezone.now()),
        "project": str(tenant.project.id),
        "path": "/pricing",
        **fields,
    }
    if headers is None:
        headers = {"origin": tenant.origin}
    return client.post(URL, json.dumps(body), content_type="text/plain", headers=headers)


def test_it_answers_the_bins_of_the_page_to_the_projects_origin(client, clicked):
    response = ask(client, clicked)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "Origin" in response["Vary"]
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert (body["projectId"], body["path"], body["kind"]) == (str(clicked.project.id), "/pricing", "click")
    assert body["bins"] == [[25, 15, 2]]
    assert (body["samples"], body["maxCount"], body["referenceWidth"], body["cellSize"]) == (2, 2, 1000, 20)
    # The one scroll's depth is y + vh = 1200: the steps up to 1000 reached, 1250 not.
    assert body["scrollDepth"]["sessions"] == 1
    assert [step["depth"] for step in body["scrollDepth"]["steps"]] == [250, 500, 750, 1000, 1250]
    assert [step["share"] for step in body["scrollDepth"]["steps"]] == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert body["palette"] == [list(stop) for stop in STOPS]
    assert body["maxDepth"] == 10_000


def test_thirty_days_and_moves_are_asked_for_in_the_body(client, clicked):
    assert ask(client, clicked, days=30).json()["bins"] == [[0, 0, 1], [25, 15, 2]]
    assert ask(client, clicked, kind="move").json()["bins"] == [[25, 15, 1]]


def test_a_request_without_an_origin_is_answered_without_cors(client, clicked):
    response = ask(client, clicked, headers={})

    assert response.status_code == 200
    assert not response.has_header("Access-Control-Allow-Origin")


def test_another_origin_is_refused_without_cors(client, clicked, other_tenant):
    response = ask(client, clicked, headers={"origin": other_tenant.origin})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert not response.has_header("Access-Control-Allow-Origin")


def test_an_expired_token_is_a_json_401_the_page_may_read(client, clicked):
    token = issue_overlay_token(project_id=clicked.project.id, path="/pricing", now=timezone.now() - timedelta(hours=2))

    response = ask(client, clicked, token=token)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "overlay_token_expired"
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"


def test_a_token_for_another_page_is_refused(client, clicked):
    response = ask(client, clicked, path="/")

    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "overlay_token_wrong_path",
        "message": "The heatmap token is for another page of the site.",
        "details": {"path": "/pricing"},
    }


def test_another_tenants_project_cannot_be_read_with_a_token(client, clicked, other_tenant):
    response = ask(client, clicked, project=str(other_tenant.project.id))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "overlay_token_wrong_project"


def test_a_tampered_token_is_a_json_401_without_cors(client, clicked):
    token = issue_overlay_token(project_id=clicked.project.id, path="/pricing", now=timezone.now())

    response = ask(client, clicked, token=token[:-2] + "xx")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_overlay_token"
    assert not response.has_header("Access-Control-Allow-Origin")


def test_a_token_of_a_deleted_project_finds_nothing(client, clicked):
    body = {"token": issue_overlay_token(project_id=uuid.uuid4(), path="/pricing", now=timezone.now())}

    response = client.post(URL, json.dumps(body), content_type="text/plain")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "project_not_found"


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"days": 14}, "days"), ({"days": "7"}, "days"), ({"kind": "scroll"}, "kind"), ({"path": ["/"]}, "path")],
)
def test_bad_fields_are_json_400s(client, clicked, fields, field):
    response = ask(client, clicked, **fields)

    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == field
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"


@pytest.mark.parametrize("body", [b"", b"[1]", b"{not json", b'{"token": 5}'])
def test_hostile_bodies_are_json_4xx(client, clicked, body):
    response = client.post(URL, body, content_type="text/plain")

    assert 400 <= response.status_code < 500
    assert "code" in response.json()["error"]


def test_a_body_over_the_cap_is_a_json_413(client, settings):
    settings.MAX_BODY_BYTES = 100

    response = client.post(URL, json.dumps({"token": "t" * 200}), content_type="text/plain")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_an_unknown_overlay_address_is_a_json_404(client):
    response = client.get("/overlay/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_answers_only_post(client):
    response = client.get(URL)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


# GET /overlay/heatmap.js


def test_it_serves_the_overlay_script_to_any_origin(client):
    response = client.get("/overlay/heatmap.js", headers={"origin": "https://anywhere.example"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response.content == overlay_views.SCRIPT.source
    assert b"/overlay/heatmap" in response.content


# The admin's link


def test_the_heatmap_page_links_to_each_origin_with_a_token(admin_client, tenant):
    tenant.project.origins = ["https://shop.example", "https://www.shop.example"]
    tenant.project.save()
    before = timezone.now()

    response = admin_client.get(
        f"/admin/projects/project/{tenant.project.id}/insights/heatmap/?path=/pricing&kind=move"
    )

    page = response.content.decode()
    links = re.findall(r'href="(https://[^"]*#analytics-heatmap=[^"]*)"', page)
    assert [link.split("#")[0] for link in links] == [
        "https://shop.example/pricing",
        "https://www.shop.example/pricing",
    ]
    token, kind = re.fullmatch(r"analytics-heatmap=([^&]+)&amp;kind=(\w+)", links[0].split("#")[1]).groups()
    assert kind == "move"
    grant = read_overlay_token(token=token, project_id=str(tenant.project.id), path="/pricing", now=timezone.now())
    assert before + timedelta(minutes=59) < grant.expires_at <= timezone.now() + timedelta(hours=1)
    assert 'target="_blank" rel="noopener noreferrer"' in page


def test_the_heatmap_page_says_what_to_do_without_origins(admin_client, tenant):
    tenant.project.origins = []
    tenant.project.save()

    response = admin_client.get(f"/admin/projects/project/{tenant.project.id}/insights/heatmap/?path=/pricing")

    assert "#analytics-heatmap=" not in response.content.decode()
    assert "Add an origin to the project" in response.content.decode()


def test_past_the_rate_limit_it_answers_a_json_429_the_page_may_read(client, clicked, settings):
    settings.RATE_LIMIT_PER_MIN = 2
    assert [ask(client, clicked).status_code for _ in range(2)] == [200, 200]
    refused = ask(client, clicked)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Access-Control-Allow-Origin"] == "https://shop.example"
