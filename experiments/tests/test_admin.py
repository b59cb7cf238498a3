"""The Django admin of experiments, as a logged-in staff user sees it."""

from urllib.parse import quote

import pytest
from django.urls import reverse

from experiments import services
from experiments.models import Experiment, Variant
from experiments.tests.helpers import expose, stored_counts
from projects import services as project_services

CHANGELIST = reverse("admin:experiments_experiment_changelist")
ADD = reverse("admin:experiments_experiment_add")
# The settings fields as the form first shows them (their defaults), which a browser posts back.
SETTINGS = {"primary_goal": "", "mde": "0.1", "sequential_tuning": "5000"}


def change_url(experiment: Experiment) -> str:
    return reverse("admin:experiments_experiment_change", args=[experiment.pk])


def results_url(experiment: Experiment) -> str:
    return reverse("admin:experiments_experiment_results", args=[experiment.pk])


def inline_data(rows, *, initial=0):
    """The POST data of the variants inline: rows of (key, weight[, id[, delete]])."""
    data = {
        "variants-TOTAL_FORMS": str(len(rows)),
        "variants-INITIAL_FORMS": str(initial),
        "variants-MIN_NUM_FORMS": "2",
        "variants-MAX_NUM_FORMS": "20",
    }
    for index, (key, weight, *existing) in enumerate(rows):
        data[f"variants-{index}-key"] = key
        data[f"variants-{index}-weight"] = str(weight)
        if existing:
            data[f"variants-{index}-id"] = str(existing[0])
            if len(existing) > 1 and existing[1]:
                data[f"variants-{index}-DELETE"] = "on"
    return data


def add(admin_client, tenant, rows, key="checkout"):
    return admin_client.post(
        ADD,
        {
            "project": str(tenant.project.id),
            "key": key,
            "name": "",
            "description": "",
            **SETTINGS,
            **inline_data(rows),
        },
    )


def change(admin_client, experiment, rows, *, initial, **fields):
    """POST the change form: name and description empty, the settings as shown, `fields` over them."""
    return admin_client.post(
        change_url(experiment),
        {"name": "", "description": "", **SETTINGS, **fields, **inline_data(rows, initial=initial)},
    )


def test_the_changelist_shows_each_experiment_with_its_split_and_a_results_link(admin_client, checkout):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert "checkout" in page
    assert "control 50 / b 50" in page
    assert results_url(checkout) in page


def test_the_add_page_offers_two_variant_rows(admin_client, tenant):
    response = admin_client.get(ADD)
    assert response.status_code == 200
    assert 'name="variants-1-weight"' in response.content.decode()


def test_an_experiment_is_created_with_its_variants_inline(admin_client, tenant):
    response = add(admin_client, tenant, [("control", 34), ("b", 33), ("c", 33)])
    assert response.status_code == 302
    experiment = Experiment.objects.get()
    assert (experiment.project_id, experiment.key, experiment.status) == (
        tenant.project.id,
        "checkout",
        "running",
    )
    assert [(v.key, v.weight, v.position) for v in experiment.variants.all()] == [
        ("control", 34, 0),
        ("b", 33, 1),
        ("c", 33, 2),
    ]
    assert (experiment.primary_goal, experiment.mde, experiment.sequential_tuning) == (None, 0.1, 5000)


def test_the_settings_of_the_statistics_can_be_changed(admin_client, checkout):
    control, b = checkout.variants.all()
    response = change(
        admin_client,
        checkout,
        [("control", 50, control.id), ("b", 50, b.id)],
        initial=2,
        primary_goal="purchase",
        mde="0.05",
        sequential_tuning="20000",
    )
    assert response.status_code == 302
    checkout.refresh_from_db()
    assert (checkout.primary_goal, checkout.mde, checkout.sequential_tuning) == ("purchase", 0.05, 20000)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mde": "0"}, "The minimum detectable effect must be a number above 0"),
        ({"mde": "-0.1"}, "The minimum detectable effect must be a number above 0"),
        ({"sequential_tuning": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"primary_goal": "g" * 65}, "Ensure this value has at most 64 characters"),
    ],
)
def test_settings_out_of_range_are_refused_with_their_reason(admin_client, checkout, settings, message):
    control, b = checkout.variants.all()
    response = change(admin_client, checkout, [("control", 50, control.id), ("b", 50, b.id)], initial=2, **settings)
    assert response.status_code == 200
    assert message in response.content.decode()
    checkout.refresh_from_db()
    assert (checkout.primary_goal, checkout.mde, checkout.sequential_tuning) == (None, 0.1, 5000)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("control", 50), ("b", 40)], "the weights add up to 90; they must add up to 100"),
        ([("control", 100)], "give from 2 to 20 variants"),
        ([("control", 50), ("control", 50)], "Please correct the duplicate data for key"),
        ([("control", 50), ("b", 150)], "Ensure this value is less than or equal to 100."),
        ([("control", 50), ("b c", 50)], "Use 1 to 64 letters, digits"),
    ],
)
def test_an_invalid_set_of_variants_is_refused_with_its_reason(admin_client, tenant, rows, message):
    response = add(admin_client, tenant, rows)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert stored_counts()["Experiment"] == 0
    assert stored_counts()["Variant"] == 0


def test_a_key_already_used_in_the_project_is_refused(admin_client, tenant, checkout):
    response = add(admin_client, tenant, [("control", 50), ("b", 50)])
    assert response.status_code == 200
    assert "This project already has an experiment with this key." in response.content.decode()
    assert Experiment.objects.count() == 1


def test_the_change_page_links_to_the_results(admin_client, checkout):
    response = admin_client.get(change_url(checkout))
    assert response.status_code == 200
    assert results_url(checkout) in response.content.decode()


def test_weights_can_be_changed_and_a_variant_added_after_the_control(admin_client, checkout):
    control, b = checkout.variants.all()
    response = change(
        admin_client, checkout, [("control", 40, control.id), ("b", 40, b.id), ("c", 20)], initial=2, name="Checkout"
    )
    assert response.status_code == 302
    assert [(v.key, v.weight, v.position) for v in checkout.variants.all()] == [
        ("control", 40, 0),
        ("b", 40, 1),
        ("c", 20, 2),
    ]


def test_a_change_that_breaks_the_weight_sum_is_refused(admin_client, checkout):
    control, b = checkout.variants.all()
    response = change(admin_client, checkout, [("control", 60, control.id), ("b", 50, b.id)], initial=2)
    assert response.status_code == 200
    assert "they must add up to 100" in response.content.decode()
    assert list(checkout.variants.values_list("weight", flat=True)) == [50, 50]


def test_a_variant_people_were_shown_cannot_be_deleted(admin_client, tenant):
    experiment = services.create_experiment(
        project=tenant.project, key="checkout", variants=[("control", 50), ("b", 50), ("c", 0)]
    )
    expose(experiment, "b", count=1)
    control, b, c = experiment.variants.all()
    response = change(
        admin_client, experiment, [("control", 50, control.id), ("b", 0, b.id, True), ("c", 50, c.id)], initial=3
    )
    assert response.status_code == 200
    assert "would require deleting the following protected related objects" in response.content.decode()
    assert Variant.objects.filter(pk=b.pk).exists()


def test_the_stop_and_restart_actions_change_the_status(admin_client, checkout):
    response = admin_client.post(CHANGELIST, {"action": "stop", "_selected_action": [str(checkout.pk)]})
    assert response.status_code == 302
    checkout.refresh_from_db()
    assert checkout.status == "stopped"
    admin_client.post(CHANGELIST, {"action": "restart", "_selected_action": [str(checkout.pk)]})
    checkout.refresh_from_db()
    assert checkout.status == "running"


def test_the_results_page_leads_with_the_sequential_verdict(admin_client, checkout):
    expose(checkout, "control", count=5000, converted=500)
    expose(checkout, "b", count=5000, converted=700)
    response = admin_client.get(results_url(checkout))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('class="whisker"') == 6  # an interval with two caps per variant
    assert "+40.0%" in page
    verdict = page.index("b converts better than control: 14.0% vs 10.0%")
    assert verdict < page.index("you may read at any time")
    assert verdict < page.index("Fixed horizon: valid only read once, at a planned end")
    assert "Sample ratio mismatch" not in page


def test_a_fixed_horizon_p_value_alone_is_never_called_a_result(admin_client, checkout):
    # z-test p = 0.006, but the sequential interval still holds 0 at 2,000 exposures.
    expose(checkout, "control", count=1000, converted=100)
    expose(checkout, "b", count=1000, converted=140)
    page = admin_client.get(results_url(checkout)).content.decode()
    assert "No difference between b and control shown yet" in page
    assert "b: the fixed-horizon p-value is under 0.05 (p = 0.0059)" in page
    assert "The sequential test does not confirm this difference yet." in page
    assert "converts better" not in page
    assert "ignificant" not in page


def test_the_results_page_warns_of_a_sample_ratio_mismatch(admin_client, checkout):
    expose(checkout, "control", count=1000, converted=100)
    expose(checkout, "b", count=700, converted=70)
    page = admin_client.get(results_url(checkout)).content.decode()
    assert "Sample ratio mismatch" in page
    assert "<strong>mismatch: the exposures do not follow the weights (p &lt; 0.0001)</strong>" in page


def test_the_results_page_filters_by_a_goal_seen_for_the_experiment(admin_client, checkout):
    expose(checkout, "control", count=50, converted=5, goal="signup")
    expose(checkout, "b", count=50, converted=20, goal="purchase")
    page = admin_client.get(results_url(checkout)).content.decode()
    assert '<option value="purchase">purchase</option>' in page
    assert '<option value="signup">signup</option>' in page
    filtered = admin_client.get(results_url(checkout), {"goal": "signup"}).content.decode()
    assert '<option value="signup" selected>signup</option>' in filtered
    assert '<td class="number">0</td>' in filtered  # b's conversions on signup


def test_the_results_page_of_an_experiment_nobody_saw(admin_client, checkout):
    page = admin_client.get(results_url(checkout)).content.decode()
    assert "Nobody has been exposed yet" in page


def test_the_results_page_is_for_staff_only(client, checkout):
    response = client.get(results_url(checkout))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_script_payloads_are_shown_escaped(admin_client):
    # Goals come from the public convert endpoint, so anyone with a browser key can choose them.
    script = "<script>alert(1)</script>"
    project = project_services.create_project(name=script, origins=[])
    experiment = services.create_experiment(
        project=project, key="xss", variants=[("control", 50), ("b", 50)], name=script, description=script
    )
    expose(experiment, "control", count=3, converted=2, goal=script)
    pages = [
        CHANGELIST,
        change_url(experiment),
        results_url(experiment),
        f"{results_url(experiment)}?goal={quote(script)}",
    ]
    for page in pages:
        content = admin_client.get(page).content
        assert script.encode() not in content, page
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in content, page
