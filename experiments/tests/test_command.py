"""manage.py createexperiment."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from experiments.models import Experiment
from experiments.tests.helpers import stored_counts


def create(*args: str) -> str:
    out = StringIO()
    call_command("createexperiment", *args, stdout=out)
    return out.getvalue()


def test_it_creates_an_experiment_in_a_project_named_on_the_command_line(tenant):
    output = create("shop", "checkout", "--variant", "control:50", "--variant", "b:50", "--name", "Checkout")
    experiment = Experiment.objects.get()
    assert (experiment.project_id, experiment.key, experiment.name) == (
        tenant.project.id,
        "checkout",
        "Checkout",
    )
    assert [(v.key, v.weight) for v in experiment.variants.all()] == [("control", 50), ("b", 50)]
    assert output.strip() == f"Created experiment checkout ({experiment.id}) in project shop: control 50%, b 50%"


def test_it_takes_the_settings_of_the_statistics(tenant):
    create(
        "shop", "checkout", "--variant", "a:50", "--variant", "b:50",
        "--sequential-tuning", "20000", "--mde", "0.05", "--primary-goal", "purchase",
    )  # fmt: skip
    experiment = Experiment.objects.get()
    assert (experiment.sequential_tuning, experiment.mde, experiment.primary_goal) == (20000, 0.05, "purchase")


def test_it_takes_the_project_by_id(tenant, other_tenant):
    create(str(other_tenant.project.id), "pricing", "--variant", "a:30", "--variant", "b:70")
    assert Experiment.objects.get().project_id == other_tenant.project.id


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere", "checkout", "--variant", "a:50", "--variant", "b:50"], "No single project"),
        (["shop", "checkout", "--variant", "a:50", "--variant", "b:40"], "must add up to 100"),
        (["shop", "checkout", "--variant", "a:100"], "give from 2 to 20 variants"),
        (["shop", "checkout", "--variant", "a:50", "--variant", "b:50", "--mde", "0"], "mde: must be a number above 0"),
        (["shop", "checkout", "--variant", "a:50", "--variant", "b:50", "--mde", "nan"], "mde: must be a number"),
        (
            ["shop", "checkout", "--variant", "a:50", "--variant", "b:50", "--sequential-tuning", "0"],
            "sequentialTuning: must be a whole number",
        ),
        (["shop", "checkout"], "give from 2 to 20 variants"),
        (["shop", "checkout", "--variant", "a:50", "--variant", "a:50"], "is used twice"),
        (["shop", "check.out", "--variant", "a:50", "--variant", "b:50"], "key: must be 1 to 64"),
        (
            ["shop", "checkout", "--variant", "a:50", "--variant", "b:-50", "--variant", "c:100"],
            "from 0 to 100",
        ),
    ],
)
def test_it_explains_what_is_wrong_and_creates_nothing(tenant, args, message):
    with pytest.raises(CommandError, match=message):
        create(*args)
    assert stored_counts()["Experiment"] == 0


@pytest.mark.parametrize(("variant", "message"), [("a50", "is not KEY:WEIGHT"), ("a:half", "is not a whole number")])
def test_it_refuses_a_variant_that_is_not_key_colon_weight(tenant, variant, message):
    with pytest.raises(CommandError, match=message):
        create("shop", "checkout", "--variant", variant, "--variant", "b:50")
    assert stored_counts()["Experiment"] == 0


def test_it_refuses_a_key_the_project_already_has(tenant):
    create("shop", "checkout", "--variant", "a:50", "--variant", "b:50")
    with pytest.raises(CommandError, match="already has an experiment"):
        create("shop", "checkout", "--variant", "a:50", "--variant", "b:50")
    assert Experiment.objects.count() == 1
