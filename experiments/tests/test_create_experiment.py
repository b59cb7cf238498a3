"""POST /v1/experiments (admin key)."""

import uuid

import orjson
import pytest

from experiments.models import Experiment
from experiments.tests.helpers import stored_counts

URL = "/v1/experiments"


def body(tenant, **overrides):
    return {
        "projectId": str(tenant.project.id),
        "key": "checkout",
        "variants": [{"key": "control", "weight": 50}, {"key": "b", "weight": 50}],
        **overrides,
    }


def test_it_creates_a_running_experiment_with_its_variants_in_order(admin_api, tenant):
    response = admin_api.post(
        URL,
        body(
            tenant,
            variants=[
                {"key": "control", "weight": 20},
                {"key": "b", "weight": 0},
                {"key": "c", "weight": 80},
            ],
            name="Checkout button",
        ),
        content_type="application/json",
    )
    assert response.status_code == 201
    answer = response.json()
    experiment = Experiment.objects.get()
    assert answer["id"] == str(experiment.id)
    assert answer["projectId"] == str(tenant.project.id)
    assert answer["key"] == "checkout"
    assert answer["status"] == "running"
    assert answer["name"] == "Checkout button"
    assert answer["variants"] == [
        {"key": "control", "weight": 20},
        {"key": "b", "weight": 0},
        {"key": "c", "weight": 80},
    ]
    assert [(v.key, v.weight, v.position) for v in experiment.variants.all()] == [
        ("control", 20, 0),
        ("b", 0, 1),
        ("c", 80, 2),
    ]
    # The statistics' settings, at their defaults.
    assert (answer["sequentialTuning"], answer["mde"], answer["primaryGoal"]) == (5000, 0.1, None)
    assert (experiment.sequential_tuning, experiment.mde, experiment.primary_goal) == (5000, 0.1, None)


def test_it_stores_the_settings_of_the_statistics(admin_api, tenant):
    response = admin_api.post(
        URL,
        body(tenant, sequentialTuning=20000, mde=0.05, primaryGoal="purchase"),
        content_type="application/json",
    )
    assert response.status_code == 201
    answer = response.json()
    assert (answer["sequentialTuning"], answer["mde"], answer["primaryGoal"]) == (20000, 0.05, "purchase")
    experiment = Experiment.objects.get()
    assert (experiment.sequential_tuning, experiment.mde, experiment.primary_goal) == (20000, 0.05, "purchase")


def test_an_integer_mde_and_a_null_primary_goal_are_taken(admin_api, tenant):
    response = admin_api.post(URL, body(tenant, mde=1, primaryGoal=None), content_type="application/json")
    assert response.status_code == 201
    assert (response.json()["mde"], response.json()["primaryGoal"]) == (1.0, None)


def test_it_takes_the_body_as_json_whatever_the_content_type(admin_api, tenant):
    response = admin_api.post(URL, orjson.dumps(body(tenant)), content_type="text/plain")
    assert response.status_code == 201


def test_it_refuses_a_request_without_the_admin_key(client, settings, tenant):
    settings.ADMIN_API_KEY = "the-right-admin-key-0123456789"
    response = client.post(URL, body(tenant), content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_admin_key"
    assert stored_counts()["Experiment"] == 0


def test_it_answers_404_for_an_unknown_project(admin_api, tenant):
    for project_id in (str(uuid.uuid4()), "not-a-uuid"):
        response = admin_api.post(URL, body(tenant, projectId=project_id), content_type="application/json")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "project_not_found"
    assert stored_counts()["Experiment"] == 0


def test_it_refuses_a_key_already_used_in_the_project(admin_api, tenant):
    assert admin_api.post(URL, body(tenant), content_type="application/json").status_code == 201
    response = admin_api.post(
        URL,
        body(tenant, variants=[{"key": "x", "weight": 100}, {"key": "y", "weight": 0}]),
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "experiment_exists"
    assert stored_counts() == {"Experiment": 1, "Variant": 2, "Assignment": 0, "Conversion": 0}


def test_the_same_key_may_be_used_by_another_project(admin_api, tenant, other_tenant):
    assert admin_api.post(URL, body(tenant), content_type="application/json").status_code == 201
    assert admin_api.post(URL, body(other_tenant), content_type="application/json").status_code == 201
    assert Experiment.objects.filter(key="checkout").count() == 2


def variants(*pairs):
    return [{"key": key, "weight": weight} for key, weight in pairs]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"variants": variants(("control", 100))}, "variants"),
        ({"variants": []}, "variants"),
        ({"variants": variants(*((f"v{i}", 5) for i in range(20)), ("v20", 0))}, "variants"),
        ({"variants": variants(("control", "50"), ("b", 50))}, "variants[0].weight"),
        ({"variants": variants(("control", 50.0), ("b", 50))}, "variants[0].weight"),
        ({"variants": variants(("control", 49.5), ("b", 50.5))}, "variants[0].weight"),
        ({"variants": variants(("control", True), ("b", 99))}, "variants[0].weight"),
        ({"variants": variants(("control", None), ("b", 100))}, "variants[0].weight"),
        ({"variants": variants(("control", -10), ("b", 110))}, "variants[0].weight"),
        ({"variants": variants(("control", 101), ("b", -1))}, "variants[0].weight"),
        ({"variants": variants(("control", 50), ("b", 40))}, "variants"),
        ({"variants": variants(("control", 50), ("control", 50))}, "variants[1].key"),
        ({"variants": variants(("control", 50), ("b c", 50))}, "variants[1].key"),
        ({"variants": variants(("control", 50), ("", 50))}, "variants[1].key"),
        ({"variants": variants(("control", 50), (7, 50))}, "variants[1].key"),
        ({"variants": variants(("control", 50), ("b" * 65, 50))}, "variants[1].key"),
        ({"variants": [{"weight": 50}, {"key": "b", "weight": 50}]}, "variants[0].key"),
        ({"variants": ["control", "b"]}, "variants[0]"),
        ({"variants": {"control": 50, "b": 50}}, "variants"),
        ({"key": ""}, "key"),
        ({"key": "k" * 65}, "key"),
        ({"key": "check out"}, "key"),
        ({"key": "check.out"}, "key"),
        ({"key": "-checkout"}, "key"),
        ({"key": 12}, "key"),
        ({"projectId": None}, "projectId"),
        ({"name": "n" * 201}, "name"),
        ({"description": 5}, "description"),
        ({"sequentialTuning": 0}, "sequentialTuning"),
        ({"sequentialTuning": -5000}, "sequentialTuning"),
        ({"sequentialTuning": 2**31}, "sequentialTuning"),
        ({"sequentialTuning": 5000.0}, "sequentialTuning"),
        ({"sequentialTuning": "5000"}, "sequentialTuning"),
        ({"sequentialTuning": True}, "sequentialTuning"),
        ({"sequentialTuning": None}, "sequentialTuning"),
        ({"mde": 0}, "mde"),
        ({"mde": -0.1}, "mde"),
        ({"mde": "0.1"}, "mde"),
        ({"mde": True}, "mde"),
        ({"mde": None}, "mde"),
        ({"mde": [0.1]}, "mde"),
        ({"primaryGoal": ""}, "primaryGoal"),
        ({"primaryGoal": "g" * 65}, "primaryGoal"),
        ({"primaryGoal": "a\x00b"}, "primaryGoal"),
        ({"primaryGoal": 3}, "primaryGoal"),
    ],
)
def test_it_refuses_an_invalid_experiment_and_stores_nothing(admin_api, tenant, overrides, field):
    response = admin_api.post(URL, body(tenant, **overrides), content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_field"
    assert error["details"]["field"] == field
    assert error["message"]
    assert stored_counts() == {"Experiment": 0, "Variant": 0, "Assignment": 0, "Conversion": 0}


@pytest.mark.parametrize(("raw", "code"), [(b"{", "invalid_json"), (b"[1]", "invalid_body")])
def test_it_refuses_a_body_that_is_not_a_json_object(admin_api, raw, code):
    response = admin_api.post(URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("number", [b"1e400", b"1e-400"])
def test_it_refuses_an_mde_no_double_holds(admin_api, tenant, number):
    raw = orjson.dumps(body(tenant, mde=0.5)).replace(b"0.5", number)
    response = admin_api.post(URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == "mde"
    assert stored_counts()["Experiment"] == 0


def test_it_refuses_a_body_without_required_fields(admin_api, tenant):
    response = admin_api.post(URL, {"projectId": str(tenant.project.id)}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] in {"key", "variants"}
    assert stored_counts()["Experiment"] == 0
