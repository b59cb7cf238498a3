"""The pages (the Django admin, /v1/docs) and the SDK carry a Content-Security-Policy without
'unsafe-inline' scripts or styles: inline <style> blocks carry the request's nonce."""

import re

import pytest

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def assert_strict(response) -> dict[str, list[str]]:
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for name in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in policy.get(name, []), name
        assert "'unsafe-eval'" not in policy.get(name, []), name
    return policy


def nonces(policy: dict[str, list[str]], name: str) -> set[str]:
    return {value[len("'nonce-") : -1] for value in policy.get(name, []) if value.startswith("'nonce-")}


@pytest.mark.parametrize("path", ["/admin/login/", "/v1/docs", "/v1/docs?script=", "/v1/sdk.js"])
def test_pages_and_the_sdk_carry_the_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert_strict(response)


def test_a_locked_out_login_page_carries_it_too(client, settings):
    settings.AXES_FAILURE_LIMIT = 1
    response = client.post("/admin/login/", {"username": "nobody", "password": "wrong"})
    assert response.status_code == 429
    assert_strict(response)


def test_every_inline_style_of_a_page_carries_the_nonce_of_its_policy(admin_client, tenant):
    project = tenant.project.id
    for path in (
        f"/admin/projects/project/{project}/insights/",
        f"/admin/projects/project/{project}/insights/heatmap/?path=/",
        "/v1/docs",
    ):
        client = admin_client
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.content.decode()
        styles = re.findall(r"<style([^>]*)>", page)
        assert styles, path
        [nonce] = nonces(assert_strict(response), "style-src")
        assert all(f'nonce="{nonce}"' in attributes for attributes in styles), path
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), f"an inline script on {path}"
        assert not re.search(r"\son[a-z]+=", page), f"an inline event handler on {path}"


def test_the_experiment_results_page_has_no_inline_script(admin_client, tenant):
    from experiments import services as experiments

    experiment = experiments.create_experiment(project=tenant.project, key="hero", variants=[("a", 50), ("b", 50)])
    response = admin_client.get(f"/admin/experiments/experiment/{experiment.pk}/results/")
    assert response.status_code == 200
    page = response.content.decode()
    [nonce] = nonces(assert_strict(response), "style-src")
    assert all(f'nonce="{nonce}"' in attributes for attributes in re.findall(r"<style([^>]*)>", page))
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert not re.search(r"\son[a-z]+=", page)


def test_each_answer_has_its_own_nonce(client):
    first, second = (nonces(directives(client.get("/v1/docs")), "style-src") for _ in range(2))
    assert first and second and first != second


def test_json_answers_skip_the_policy(client, tenant):
    assert "Content-Security-Policy" not in client.get("/v1/health")
