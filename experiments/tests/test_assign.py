"""POST /v1/experiments/<key>/assign: the public, sticky, weighted assignment."""

import threading

import pytest
from django.db import connection

from experiments import services
from experiments.bucketing import bucket_of, variant_for_bucket
from experiments.models import Assignment, Experiment, Variant
from experiments.tests.helpers import post_text, stored_counts

URL = "/v1/experiments/checkout/assign"


def assign(browser, tenant, anon_id="a1", url=URL, **headers):
    return post_text(browser, url, {"apiKey": tenant.key, "anonId": anon_id}, **headers)


def test_it_answers_a_variant_and_records_the_exposure_once(browser, tenant, checkout):
    first = assign(browser, tenant)
    assert first.status_code == 200
    assert first["Content-Type"] == "application/json"
    assert set(first.json()) == {"variantKey"}
    assert first.json()["variantKey"] in {"control", "b"}
    for _ in range(3):
        assert assign(browser, tenant).json() == first.json()
    exposure = Assignment.objects.get()
    assert (exposure.anon_id, exposure.variant.key) == ("a1", first.json()["variantKey"])
    assert exposure.project_id == tenant.project.id
    assert exposure.experiment_id == checkout.id


def test_it_answers_the_variant_of_the_hash_of_experiment_key_and_anon_id(browser, tenant, checkout):
    variants = list(checkout.variants.all())
    for index in range(60):
        anon_id = f"visitor-{index}"
        expected = variant_for_bucket(
            variants=variants, bucket=bucket_of(experiment_key="checkout", anon_id=anon_id)
        ).key
        assert assign(browser, tenant, anon_id).json()["variantKey"] == expected
    assert Assignment.objects.count() == 60


def test_the_answer_sticks_when_the_weights_change_later(browser, tenant, checkout):
    before = {f"v{index}": assign(browser, tenant, f"v{index}").json()["variantKey"] for index in range(40)}
    assert set(before.values()) == {"control", "b"}
    Variant.objects.filter(experiment=checkout, key="control").update(weight=0)
    Variant.objects.filter(experiment=checkout, key="b").update(weight=100)
    assert {anon: assign(browser, tenant, anon).json()["variantKey"] for anon in before} == before
    assert {assign(browser, tenant, f"new{index}").json()["variantKey"] for index in range(20)} == {"b"}


def test_a_variant_of_weight_zero_is_never_assigned(browser, tenant):
    services.create_experiment(project=tenant.project, key="pricing", variants=[("control", 50), ("off", 0), ("b", 50)])
    answers = {
        assign(browser, tenant, f"p{index}", url="/v1/experiments/pricing/assign").json()["variantKey"]
        for index in range(200)
    }
    assert answers == {"control", "b"}
    assert not Assignment.objects.filter(variant__key="off").exists()


def test_a_stopped_experiment_answers_the_control_and_records_nothing(browser, tenant, checkout):
    in_b = next(f"s{index}" for index in range(100) if assign(browser, tenant, f"s{index}").json()["variantKey"] == "b")
    exposures = Assignment.objects.count()
    services.set_status(experiment=checkout, status=Experiment.Status.STOPPED)

    assert assign(browser, tenant, in_b).json() == {"variantKey": "control"}
    assert {assign(browser, tenant, f"late{index}").json()["variantKey"] for index in range(20)} == {"control"}
    assert Assignment.objects.count() == exposures

    services.set_status(experiment=checkout, status=Experiment.Status.RUNNING)
    assert assign(browser, tenant, in_b).json() == {"variantKey": "b"}


def test_it_answers_404_for_an_unknown_experiment(browser, tenant, checkout):
    for url in (
        "/v1/experiments/nope/assign",
        "/v1/experiments/bad%00key/assign",
        f"/v1/experiments/{'k' * 300}/assign",
    ):
        response = assign(browser, tenant, url=url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "experiment_not_found"
    assert stored_counts()["Assignment"] == 0


def test_it_refuses_a_key_of_another_project(browser, tenant, other_tenant):
    services.create_experiment(project=other_tenant.project, key="checkout", variants=[("control", 50), ("b", 50)])
    response = assign(browser, tenant)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "experiment_not_found"
    assert Assignment.objects.count() == 0


def test_each_project_assigns_only_in_its_own_experiment_of_the_same_key(browser, tenant, other_tenant, checkout):
    theirs = services.create_experiment(
        project=other_tenant.project, key="checkout", variants=[("control", 50), ("b", 50)]
    )
    assign(browser, tenant, "shared-anon")
    assert list(Assignment.objects.values_list("experiment_id", "project_id")) == [(checkout.id, tenant.project.id)]
    assign(browser, other_tenant, "shared-anon")
    assert Assignment.objects.filter(experiment=theirs, project=other_tenant.project).count() == 1
    assert Assignment.objects.filter(experiment=checkout).count() == 1


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"anonId": "a1"}, 401, "missing_api_key"),
        ({"apiKey": "ak_unknown000000000000000000000", "anonId": "a1"}, 401, "invalid_api_key"),
        ({"apiKey": "{key}"}, 400, "invalid_field"),
        ({"apiKey": "{key}", "anonId": ""}, 400, "invalid_field"),
        ({"apiKey": "{key}", "anonId": 42}, 400, "invalid_field"),
        ({"apiKey": "{key}", "anonId": ["a1"]}, 400, "invalid_field"),
        ({"apiKey": "{key}", "anonId": "a" * 129}, 400, "invalid_field"),
        ({"apiKey": "{key}", "anonId": "a\x00b"}, 400, "invalid_field"),
    ],
)
def test_it_refuses_a_bad_request_and_stores_nothing(browser, tenant, checkout, payload, status, code):
    payload = {name: tenant.key if value == "{key}" else value for name, value in payload.items()}
    response = post_text(browser, URL, payload)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert stored_counts()["Assignment"] == 0


def test_it_accepts_an_anon_id_of_128_characters(browser, tenant, checkout):
    assert assign(browser, tenant, "a" * 128).status_code == 200


def test_it_refuses_a_revoked_key(browser, tenant, revoked_key, checkout):
    response = post_text(browser, URL, {"apiKey": revoked_key, "anonId": "a1"})
    assert response.status_code == 401
    assert stored_counts()["Assignment"] == 0


@pytest.mark.parametrize(("raw", "code"), [(b"not json", "invalid_json"), (b'["a1"]', "invalid_body")])
def test_it_refuses_a_body_that_is_not_a_json_object(browser, checkout, raw, code):
    response = post_text(browser, URL, raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_it_refuses_an_origin_outside_the_project(browser, tenant, checkout):
    response = assign(browser, tenant, Origin="https://evil.example")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert stored_counts()["Assignment"] == 0


def test_a_browser_on_the_projects_origin_can_read_the_answer(browser, tenant, checkout):
    preflight = browser.options(URL, headers={"Origin": tenant.origin, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    response = assign(browser, tenant, Origin=tenant.origin)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == tenant.origin


def test_it_answers_json_to_a_method_other_than_post(browser, checkout):
    response = browser.get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_it_rate_limits_per_key_and_address(browser, tenant, checkout, settings):
    settings.RATE_LIMIT_PER_MIN = 2
    assert [assign(browser, tenant).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.django_db(transaction=True)
def test_two_first_requests_for_one_anon_id_store_one_exposure_and_agree(tenant, monkeypatch):
    services.create_experiment(project=tenant.project, key="race", variants=[("control", 50), ("b", 50)])
    # Each thread would pick a different variant, and both pick only once both have looked
    # for an existing exposure and found none: the insert decides, and both must answer it.
    wanted = iter(["control", "b"])
    lock = threading.Lock()
    both_looked = threading.Barrier(2, timeout=10)

    def racing_choice(*, variants, bucket):
        with lock:
            key = next(wanted)
        both_looked.wait()
        return next(variant for variant in variants if variant.key == key)

    monkeypatch.setattr(services, "variant_for_bucket", racing_choice)
    answers: list[str] = []
    failures: list[BaseException] = []

    def first_request():
        try:
            answers.append(services.assign(project_id=tenant.project.id, experiment_key="race", anon_id="same"))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(answers) == 2
    assert answers[0] == answers[1]
    stored = Assignment.objects.select_related("variant").get(anon_id="same")
    assert stored.variant.key == answers[0]


def test_an_assignment_costs_a_fixed_number_of_queries(browser, tenant, checkout, django_assert_num_queries):
    assign(browser, tenant, "warm-up")  # caches the key's project
    # The experiment with its variants, the exposure read, the insert and a second read; a
    # returning anonId stops after the first read.
    with django_assert_num_queries(4):
        assert assign(browser, tenant, "new").status_code == 200
    with django_assert_num_queries(2):
        assert assign(browser, tenant, "new").status_code == 200
