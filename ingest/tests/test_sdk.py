"""GET /v1/sdk.js: the browser SDK as a cacheable script."""

import gzip
import re

import pytest
from django.test import Client

from ingest import sdk

GZIP_BUDGET = 5000  # bytes: "under 5 KB" with no argument about which kilobyte


@pytest.fixture
def client() -> Client:
    return Client()


def test_it_serves_the_sdk_as_javascript(client):
    response = client.get("/v1/sdk.js")

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == "application/javascript"
    assert response.content == sdk.SDK_PATH.read_bytes()
    assert b"window.analytics" in response.content


def test_it_lets_browsers_cache_it_and_revalidate_by_etag(client):
    response = client.get("/v1/sdk.js")

    assert re.fullmatch(r"public, max-age=\d+", response["Cache-Control"])
    assert int(response["Cache-Control"].rsplit("=", 1)[1]) >= 3600
    assert response["ETag"] == sdk.ETAG

    again = client.get("/v1/sdk.js", headers={"if-none-match": response["ETag"]})

    assert again.status_code == 304
    assert again["Cache-Control"] == response["Cache-Control"]


def test_it_caches_the_versioned_url_for_a_year(client):
    response = client.get(f"/v1/sdk.js?v={sdk.VERSION}")

    assert response["Cache-Control"] == "public, max-age=31536000, immutable"


def test_it_caches_an_outdated_version_only_briefly(client):
    response = client.get("/v1/sdk.js?v=0.0.0-old")

    assert "immutable" not in response["Cache-Control"]


def test_the_version_constant_is_what_the_sdk_reports():
    assert re.fullmatch(r"\d+\.\d+\.\d+", sdk.VERSION)
    assert f'const VERSION = "{sdk.VERSION}"' in sdk.SOURCE.decode()
    assert "version: VERSION" in sdk.SOURCE.decode()


def test_it_is_gzipped_for_browsers_and_stays_under_five_kilobytes(client):
    response = client.get("/v1/sdk.js", headers={"accept-encoding": "gzip, deflate, br"})

    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert gzip.decompress(response.content) == sdk.SOURCE
    assert len(response.content) < GZIP_BUDGET


def test_it_sends_the_same_gzipped_bytes_every_time(client):
    first = client.get("/v1/sdk.js", headers={"accept-encoding": "gzip"})
    second = client.get("/v1/sdk.js", headers={"accept-encoding": "gzip"})

    assert first.content == second.content
    assert first["ETag"] == second["ETag"] != sdk.ETAG


def test_a_gzipped_copy_revalidates_with_its_own_etag(client):
    first = client.get("/v1/sdk.js", headers={"accept-encoding": "gzip"})

    again = client.get("/v1/sdk.js", headers={"accept-encoding": "gzip", "if-none-match": first["ETag"]})
    plain = client.get("/v1/sdk.js", headers={"if-none-match": first["ETag"]})

    assert again.status_code == 304
    assert plain.status_code == 200


def test_it_refuses_a_post(client):
    response = client.post("/v1/sdk.js")

    assert response.status_code == 405
