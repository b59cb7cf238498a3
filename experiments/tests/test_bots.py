"""Assign and convert from crawlers, bots and headless browsers: answered, counted, not stored."""

import pytest

from experiments import services
from experiments.models import Assignment, Conversion
from experiments.tests.helpers import post_text
from projects.models import FilteredBotHour

pytestmark = pytest.mark.django_db

BINGBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
)


def assign(browser, tenant, anon_id="a1", key="checkout", **headers):
    return post_text(browser, f"/v1/experiments/{key}/assign", {"apiKey": tenant.key, "anonId": anon_id}, **headers)


def convert(browser, tenant, anon_id="a1", key="checkout", **headers):
    body = {"apiKey": tenant.key, "anonId": anon_id, "goal": "signup"}
    return post_text(browser, f"/v1/experiments/{key}/convert", body, **headers)


def filtered_counts() -> dict:
    return dict(FilteredBotHour.objects.values_list("project_id", "requests"))


def test_a_bot_is_shown_the_control_and_no_exposure_is_stored(browser, tenant, checkout):
    # Many anonIds, so that a real assignment would put some of them in variant b.
    answers = {assign(browser, tenant, f"bot-{i}", user_agent=BINGBOT).json()["variantKey"] for i in range(20)}
    assert answers == {"control"}
    assert Assignment.objects.count() == 0
    assert filtered_counts() == {tenant.project.id: 20}


def test_a_bot_conversion_is_not_recorded_even_for_an_exposed_anon_id(browser, tenant, checkout):
    services.assign(project_id=tenant.project.id, experiment_key="checkout", anon_id="a1")
    response = convert(browser, tenant, "a1", user_agent=BINGBOT, origin=tenant.origin)
    assert response.status_code == 200
    assert response.json() == {"recorded": False, "reason": "bot"}
    assert response["Access-Control-Allow-Origin"] == tenant.origin
    assert Conversion.objects.count() == 0
    assert filtered_counts() == {tenant.project.id: 1}


@pytest.mark.parametrize("post", [assign, convert])
def test_a_bot_naming_an_unknown_experiment_still_gets_404_and_is_not_counted(browser, tenant, checkout, post):
    response = post(browser, tenant, key="nope", user_agent=BINGBOT)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "experiment_not_found"
    assert filtered_counts() == {}


@pytest.mark.parametrize("post", [assign, convert])
def test_a_bot_with_a_bad_anon_id_still_gets_400_and_is_not_counted(browser, tenant, checkout, post):
    response = post(browser, tenant, anon_id="", user_agent=BINGBOT)
    assert response.status_code == 400
    assert filtered_counts() == {}


def test_with_filter_bots_off_a_bot_is_assigned_and_converts(browser, tenant, checkout):
    tenant.project.filter_bots = False
    tenant.project.save()
    assign(browser, tenant, user_agent=BINGBOT)
    assert convert(browser, tenant, user_agent=BINGBOT).json() == {"recorded": True}
    assert (Assignment.objects.count(), Conversion.objects.count()) == (1, 1)
    assert filtered_counts() == {}


def test_server_side_clients_are_assigned_as_before(browser, tenant, checkout):
    assign(browser, tenant, user_agent="python-requests/2.32.3")
    assert convert(browser, tenant, user_agent="okhttp/4.12.0").json() == {"recorded": True}
    assert filtered_counts() == {}
