"""POST /v1/experiments/<key>/convert: deduplicated conversions of exposed anonIds."""

import pytest

from experiments import services
from experiments.models import Conversion, Experiment
from experiments.tests.helpers import post_text, stored_counts

URL = "/v1/experiments/checkout/convert"


def convert(browser, tenant, anon_id="a1", goal="signup", url=URL):
    return post_text(browser, url, {"apiKey": tenant.key, "anonId": anon_id, "goal": goal})


def expose(tenant, anon_id="a1", key="checkout"):
    return services.assign(project_id=tenant.project.id, experiment_key=key, anon_id=anon_id)


def test_it_records_a_conversion_once_per_goal(browser, tenant, checkout):
    expose(tenant)
    first = convert(browser, tenant)
    assert first.status_code == 200
    assert first.json() == {"recorded": True}
    assert convert(browser, tenant).json() == {"recorded": False, "reason": "duplicate"}
    assert convert(browser, tenant, goal="purchase").json() == {"recorded": True}
    assert sorted(Conversion.objects.values_list("anon_id", "goal")) == [("a1", "purchase"), ("a1", "signup")]
    assert set(Conversion.objects.values_list("project_id", "experiment_id")) == {(tenant.project.id, checkout.id)}


def test_an_anon_id_never_exposed_counts_nowhere(browser, tenant, checkout):
    expose(tenant, "someone-else")
    response = convert(browser, tenant, "a1")
    assert response.status_code == 200
    assert response.json() == {"recorded": False, "reason": "not_exposed"}
    assert Conversion.objects.count() == 0


def test_an_anon_id_that_only_saw_a_stopped_experiment_was_not_exposed(browser, tenant, checkout):
    services.set_status(experiment=checkout, status=Experiment.Status.STOPPED)
    expose(tenant)
    assert convert(browser, tenant).json() == {"recorded": False, "reason": "not_exposed"}


def test_people_exposed_before_the_stop_still_convert(browser, tenant, checkout):
    expose(tenant)
    services.set_status(experiment=checkout, status=Experiment.Status.STOPPED)
    assert convert(browser, tenant).json() == {"recorded": True}


def test_it_answers_404_for_an_unknown_experiment(browser, tenant, checkout):
    expose(tenant)
    response = convert(browser, tenant, url="/v1/experiments/nope/convert")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "experiment_not_found"
    assert Conversion.objects.count() == 0


def test_it_refuses_a_key_of_another_project(browser, tenant, other_tenant):
    theirs = services.create_experiment(
        project=other_tenant.project, key="checkout", variants=[("control", 50), ("b", 50)]
    )
    expose(other_tenant)
    response = convert(browser, tenant)
    assert response.status_code == 404
    assert Conversion.objects.filter(experiment=theirs).count() == 0


def test_an_exposure_in_another_project_does_not_make_an_anon_id_exposed(browser, tenant, other_tenant, checkout):
    services.create_experiment(project=other_tenant.project, key="checkout", variants=[("control", 50), ("b", 50)])
    expose(other_tenant, "a1")
    assert convert(browser, tenant, "a1").json() == {"recorded": False, "reason": "not_exposed"}
    assert Conversion.objects.count() == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"anonId": "a1"},
        {"anonId": "a1", "goal": ""},
        {"anonId": "a1", "goal": "g" * 65},
        {"anonId": "a1", "goal": 3},
        {"anonId": "a1", "goal": "sign\x00up"},
        {"goal": "signup"},
        {"anonId": "a" * 129, "goal": "signup"},
    ],
)
def test_it_refuses_a_bad_conversion_and_stores_nothing(browser, tenant, checkout, payload):
    expose(tenant)
    response = post_text(browser, URL, {"apiKey": tenant.key, **payload})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_field"
    assert error["details"]["field"] in {"anonId", "goal"}
    assert stored_counts()["Conversion"] == 0


def test_it_accepts_a_goal_of_64_characters(browser, tenant, checkout):
    expose(tenant)
    assert convert(browser, tenant, goal="g" * 64).json() == {"recorded": True}


def test_it_refuses_a_request_without_a_key(browser, tenant, checkout):
    expose(tenant)
    response = post_text(browser, URL, {"anonId": "a1", "goal": "signup"})
    assert response.status_code == 401
    assert Conversion.objects.count() == 0


def test_a_conversion_costs_a_fixed_number_of_queries(browser, tenant, checkout, django_assert_num_queries):
    expose(tenant)
    convert(browser, tenant, "warm-up")  # caches the key's project
    # The experiment, then the insert that checks the exposure itself; only an answer other
    # than "recorded" asks whether the anonId was exposed.
    with django_assert_num_queries(2):
        assert convert(browser, tenant, "a1").json() == {"recorded": True}
    with django_assert_num_queries(3):
        assert convert(browser, tenant, "a1").json() == {"recorded": False, "reason": "duplicate"}
    with django_assert_num_queries(3):
        assert convert(browser, tenant, "stranger").json() == {"recorded": False, "reason": "not_exposed"}
