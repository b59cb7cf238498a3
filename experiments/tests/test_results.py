"""GET /v1/experiments/<key>/results (admin key): counts and statistics per variant."""

import math
import uuid

import pytest

from experiments import services, stats
from experiments.models import Conversion, Experiment, Variant
from experiments.tests.helpers import expose
from experiments.tests.reference import (
    chi_square_statistic,
    monte_carlo_chance,
    wald_interval,
    z_test_p_value,
)

URL = "/v1/experiments/checkout/results"


def results(admin_api, tenant, **params):
    return admin_api.get(URL, {"projectId": str(tenant.project.id), **params})


def test_the_answer_has_exactly_the_contracts_shape(admin_api, tenant, checkout):
    expose(checkout, "control", count=10, converted=2)
    expose(checkout, "b", count=10, converted=3)
    response = results(admin_api, tenant)
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"experiment", "goal", "variants", "srm", "sampleSize"}
    assert answer["experiment"] == {
        "key": "checkout",
        "projectId": str(tenant.project.id),
        "status": "running",
    }
    assert answer["goal"] is None
    control, variant = answer["variants"]
    assert control == {"variantKey": "control", "weight": 50, "exposures": 10, "conversions": 2, "rate": 0.2}
    assert set(variant) == {
        "variantKey",
        "weight",
        "exposures",
        "conversions",
        "rate",
        "uplift",
        "pValue",
        "ci95",
        "chanceToBeatControl",
        "sequential",
    }
    assert set(variant["sequential"]) == {"ci95", "pValue"}
    assert set(answer["srm"]) == {"pValue", "flagged"}
    assert set(answer["sampleSize"]) == {"mde", "requiredPerVariant", "progress"}


def test_the_numbers_match_the_textbook_formulas(admin_api, tenant):
    services.create_experiment(project=tenant.project, key="checkout", variants=[("control", 34), ("b", 33), ("c", 33)])
    experiment = Experiment.objects.get()
    counts = {"control": (1000, 100), "b": (980, 127), "c": (1010, 88)}
    for key, (exposures, conversions) in counts.items():
        expose(experiment, key, count=exposures, converted=conversions)

    answer = results(admin_api, tenant).json()

    n0, c0 = counts["control"]
    control = answer["variants"][0]
    assert (control["exposures"], control["conversions"]) == (n0, c0)
    assert control["rate"] == pytest.approx(c0 / n0, abs=1e-12)
    for row in answer["variants"][1:]:
        n1, c1 = counts[row["variantKey"]]
        assert (row["exposures"], row["conversions"]) == (n1, c1)
        assert row["rate"] == pytest.approx(c1 / n1, abs=1e-12)
        assert row["uplift"] == pytest.approx((c1 / n1 - c0 / n0) / (c0 / n0), abs=1e-9)
        assert row["pValue"] == pytest.approx(z_test_p_value(c0, n0, c1, n1), abs=1e-6)
        assert row["ci95"] == pytest.approx(list(wald_interval(c0, n0, c1, n1)), abs=1e-6)
        assert row["chanceToBeatControl"] == pytest.approx(monte_carlo_chance(c0, n0, c1, n1), abs=0.003)
    # Two degrees of freedom: the chi-square survival function is exp(-x / 2).
    total = sum(exposures for exposures, _ in counts.values())
    expected = [total * 0.34, total * 0.33, total * 0.33]
    statistic = chi_square_statistic([exposures for exposures, _ in counts.values()], expected)
    assert answer["srm"] == {"pValue": pytest.approx(math.exp(-statistic / 2), abs=1e-9), "flagged": False}


def test_conversions_count_each_exposed_anon_id_once_on_the_goal_asked(admin_api, tenant, checkout):
    control_ids = expose(checkout, "control", count=20, converted=5, goal="signup")
    b_ids = expose(checkout, "b", count=20, converted=4, goal="signup")
    Conversion.objects.bulk_create(
        Conversion(project_id=tenant.project.id, experiment=checkout, anon_id=anon_id, goal="purchase")
        # Three who signed up also purchased; two more only purchased.
        for anon_id in control_ids[3:7]
    )
    Conversion.objects.bulk_create(
        [Conversion(project_id=tenant.project.id, experiment=checkout, anon_id=b_ids[0], goal="purchase")]
    )

    def conversions(**params):
        return [row["conversions"] for row in results(admin_api, tenant, **params).json()["variants"]]

    assert conversions() == [7, 4]
    assert conversions(goal="signup") == [5, 4]
    assert conversions(goal="purchase") == [4, 1]
    assert conversions(goal="never") == [0, 0]
    assert results(admin_api, tenant, goal="purchase").json()["goal"] == "purchase"


def test_conversions_of_people_never_exposed_are_not_counted(admin_api, tenant, checkout):
    expose(checkout, "control", count=10, converted=1)
    Conversion.objects.create(project_id=tenant.project.id, experiment=checkout, anon_id="stranger", goal="signup")
    assert [row["conversions"] for row in results(admin_api, tenant).json()["variants"]] == [1, 0]


def test_an_experiment_nobody_saw_has_zeros_and_nulls(admin_api, tenant, checkout):
    answer = results(admin_api, tenant).json()
    assert answer["variants"] == [
        {"variantKey": "control", "weight": 50, "exposures": 0, "conversions": 0, "rate": 0},
        {
            "variantKey": "b",
            "weight": 50,
            "exposures": 0,
            "conversions": 0,
            "rate": 0,
            "uplift": None,
            "pValue": None,
            "ci95": None,
            "chanceToBeatControl": None,
            "sequential": None,
        },
    ]
    assert answer["srm"] == {"pValue": None, "flagged": False}
    assert answer["sampleSize"] == {"mde": 0.1, "requiredPerVariant": None, "progress": None}


def test_a_variant_without_exposures_has_null_comparisons(admin_api, tenant, checkout):
    expose(checkout, "control", count=50, converted=5)
    variant = results(admin_api, tenant).json()["variants"][1]
    assert (variant["exposures"], variant["rate"]) == (0, 0)
    names = ("uplift", "pValue", "ci95", "chanceToBeatControl", "sequential")
    assert [variant[name] for name in names] == [None] * 5


def test_without_any_conversion_only_the_chance_to_beat_control_is_defined(admin_api, tenant, checkout):
    expose(checkout, "control", count=300)
    expose(checkout, "b", count=300)
    variant = results(admin_api, tenant).json()["variants"][1]
    assert variant["rate"] == 0
    assert variant["uplift"] is None  # the control rate is 0
    assert variant["pValue"] is None  # the standard error is 0
    assert variant["ci95"] is None
    assert variant["sequential"] is None  # no variance in either arm
    assert variant["chanceToBeatControl"] == pytest.approx(0.5, abs=1e-9)


def test_a_zero_control_rate_leaves_the_uplift_undefined_but_not_the_test(admin_api, tenant, checkout):
    expose(checkout, "control", count=200)
    expose(checkout, "b", count=200, converted=12)
    variant = results(admin_api, tenant).json()["variants"][1]
    assert variant["uplift"] is None
    assert variant["pValue"] == pytest.approx(z_test_p_value(0, 200, 12, 200), abs=1e-6)
    assert variant["ci95"] == pytest.approx(list(wald_interval(0, 200, 12, 200)), abs=1e-6)
    assert variant["chanceToBeatControl"] == pytest.approx(monte_carlo_chance(0, 200, 12, 200), abs=0.003)


def test_a_sample_ratio_mismatch_is_flagged(admin_api, tenant, checkout):
    expose(checkout, "control", count=1000)
    expose(checkout, "b", count=850)
    srm = results(admin_api, tenant).json()["srm"]
    statistic = chi_square_statistic([1000, 850], [925, 925])
    # One degree of freedom: the chi-square survival function is erfc(sqrt(x / 2)).
    assert srm["pValue"] == pytest.approx(math.erfc(math.sqrt(statistic / 2)), abs=1e-9)
    assert srm["pValue"] < 0.001
    assert srm["flagged"] is True


def test_a_split_within_chance_is_not_flagged(admin_api, tenant, checkout):
    expose(checkout, "control", count=1000)
    expose(checkout, "b", count=960)
    srm = results(admin_api, tenant).json()["srm"]
    assert srm["pValue"] == pytest.approx(math.erfc(math.sqrt(chi_square_statistic([1000, 960], [980, 980]) / 2)))
    assert srm["flagged"] is False


def test_the_srm_check_leaves_out_variants_of_weight_zero(admin_api, tenant):
    experiment = services.create_experiment(
        project=tenant.project, key="checkout", variants=[("control", 40), ("b", 30), ("c", 30)]
    )
    for key, count in (("control", 400), ("b", 300), ("c", 900)):
        expose(experiment, key, count=count)
    # c had weight before someone set it to 0: its exposures say nothing about the current split.
    Variant.objects.filter(experiment=experiment, key="c").update(weight=0)
    Variant.objects.filter(experiment=experiment, key="b").update(weight=60)
    srm = results(admin_api, tenant).json()["srm"]
    statistic = chi_square_statistic([400, 300], [700 * 0.4, 700 * 0.6])
    assert srm["pValue"] == pytest.approx(math.erfc(math.sqrt(statistic / 2)), abs=1e-9)


def test_a_stopped_experiment_still_has_results(admin_api, tenant, checkout):
    expose(checkout, "control", count=10, converted=1)
    services.set_status(experiment=checkout, status=Experiment.Status.STOPPED)
    answer = results(admin_api, tenant).json()
    assert answer["experiment"]["status"] == "stopped"
    assert answer["variants"][0]["exposures"] == 10


def test_the_counts_come_from_a_fixed_number_of_queries(admin_api, tenant, checkout, django_assert_num_queries):
    expose(checkout, "control", count=5, converted=1)
    expose(checkout, "b", count=5, converted=2)
    # The project, the experiment, its variants and one aggregate over the exposures.
    with django_assert_num_queries(4):
        small = results(admin_api, tenant).json()
    expose(checkout, "control", count=500, converted=50, prefix="more-")
    with django_assert_num_queries(4):
        large = results(admin_api, tenant).json()
    assert [row["exposures"] for row in small["variants"]] == [5, 5]
    assert [row["exposures"] for row in large["variants"]] == [505, 5]


def test_it_refuses_a_key_of_another_project(admin_api, tenant, other_tenant, checkout):
    theirs = services.create_experiment(
        project=other_tenant.project, key="pricing", variants=[("control", 50), ("b", 50)]
    )
    expose(theirs, "control", count=3)
    response = admin_api.get("/v1/experiments/pricing/results", {"projectId": str(tenant.project.id)})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "experiment_not_found"


def test_each_project_sees_only_its_own_experiment_of_the_same_key(admin_api, tenant, other_tenant, checkout):
    theirs = services.create_experiment(
        project=other_tenant.project, key="checkout", variants=[("control", 10), ("b", 90)]
    )
    expose(checkout, "control", count=4)
    expose(theirs, "b", count=7)
    mine = results(admin_api, tenant).json()
    assert [(row["weight"], row["exposures"]) for row in mine["variants"]] == [(50, 4), (50, 0)]
    other = results(admin_api, other_tenant).json()
    assert [(row["weight"], row["exposures"]) for row in other["variants"]] == [(10, 0), (90, 7)]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 400, "invalid_field"),
        ({"projectId": "not-a-uuid"}, 404, "project_not_found"),
        ({"projectId": str(uuid.uuid4())}, 404, "project_not_found"),
        ({"projectId": "{project}", "goal": "g" * 65}, 400, "invalid_field"),
        ({"projectId": "{project}", "goal": "a\x00"}, 400, "invalid_field"),
    ],
)
def test_it_refuses_a_bad_query(admin_api, tenant, checkout, params, status, code):
    params = {name: str(tenant.project.id) if value == "{project}" else value for name, value in params.items()}
    response = admin_api.get(URL, params)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_it_answers_404_for_an_unknown_experiment(admin_api, tenant):
    response = admin_api.get("/v1/experiments/nope/results", {"projectId": str(tenant.project.id)})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "experiment_not_found"


def test_it_refuses_a_request_without_the_admin_key(client, tenant, checkout):
    response = client.get(URL, {"projectId": str(tenant.project.id)})
    assert response.status_code == 401


def test_the_sample_size_by_hand(admin_api, tenant, checkout):
    # Control 100/1000 = 10%, mde 10%: p2 = 11%;
    # ceil((1.959964 + 0.841621)^2 (0.1 * 0.9 + 0.11 * 0.89) / 0.01^2) = ceil(7.848878512 * 0.1879 / 0.0001)
    # = ceil(14748.04) = 14,749; the smallest arm (b, 800) is 800 / 14749 of the way.
    expose(checkout, "control", count=1000, converted=100)
    expose(checkout, "b", count=800, converted=90)
    assert results(admin_api, tenant).json()["sampleSize"] == {
        "mde": 0.1,
        "requiredPerVariant": 14749,
        "progress": pytest.approx(800 / 14749, abs=1e-12),
    }


def test_the_sample_size_follows_the_experiments_mde_and_the_goal(admin_api, tenant):
    experiment = services.create_experiment(
        project=tenant.project, key="checkout", variants=[("control", 50), ("b", 50)], mde=0.2
    )
    control_ids = expose(experiment, "control", count=2000, converted=100, goal="signup")
    expose(experiment, "b", count=2000, converted=0)
    Conversion.objects.bulk_create(
        Conversion(project_id=tenant.project.id, experiment=experiment, anon_id=anon_id, goal="purchase")
        for anon_id in control_ids[:40]
    )
    # signup 5%, mde 20%: ceil(7.848878512 * (0.05 * 0.95 + 0.06 * 0.94) / 0.01^2) = ceil(8154.98) = 8,155
    signup = results(admin_api, tenant, goal="signup").json()["sampleSize"]
    assert signup == {"mde": 0.2, "requiredPerVariant": 8155, "progress": pytest.approx(2000 / 8155, abs=1e-12)}
    # purchase 2%, p2 = 2.4%: ceil(7.848878512 * (0.02 * 0.98 + 0.024 * 0.976) / 0.004^2) = ceil(21105.63) = 21,106
    purchase = results(admin_api, tenant, goal="purchase").json()["sampleSize"]
    assert purchase["requiredPerVariant"] == 21106


def test_the_sample_size_is_null_while_the_control_converts_nobody(admin_api, tenant, checkout):
    expose(checkout, "control", count=500)
    expose(checkout, "b", count=500, converted=30)
    answer = results(admin_api, tenant).json()
    assert answer["sampleSize"] == {"mde": 0.1, "requiredPerVariant": None, "progress": None}
    # The variant has a rate but the control none: its variance is 0, so no sequential numbers either.
    assert answer["variants"][1]["sequential"] is None


def test_the_sequential_numbers_follow_the_experiments_tuning(admin_api, tenant):
    experiment = services.create_experiment(
        project=tenant.project, key="checkout", variants=[("control", 50), ("b", 50)], sequential_tuning=100_000
    )
    expose(experiment, "control", count=5000, converted=500)
    expose(experiment, "b", count=5000, converted=560)
    sequential = results(admin_api, tenant).json()["variants"][1]["sequential"]
    expected = stats.sequential_difference(
        conversions=560, exposures=5000, control_conversions=500, control_exposures=5000, tuning=100_000
    )
    default = stats.sequential_difference(
        conversions=560, exposures=5000, control_conversions=500, control_exposures=5000
    )
    assert sequential == {"ci95": list(expected.ci95), "pValue": expected.p_value}
    assert expected.ci95 != default.ci95
