"""The admin results page on visitors assigned and converted through the services, over days."""

import datetime
import math
import re

import pytest
from django.db.models import Count
from django.urls import reverse

from experiments import admin as experiments_admin
from experiments import selectors, services
from experiments.models import Assignment, Conversion, Variant

TODAY = datetime.date(2026, 11, 20)
DAYS = 6
VISITORS = 600


def results_url(experiment) -> str:
    return reverse("admin:experiments_experiment_results", args=[experiment.pk])


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(experiments_admin, "today", lambda time_zone: TODAY)
    return TODAY


def run(experiment, *, visitors=VISITORS, prefix="v"):
    """Assign `visitors` through the service, convert some per goal, spread over DAYS days to TODAY.

    Visitor i arrives DAYS - 1 - (i % DAYS) days before TODAY. Goals: signup (10% of the
    control, 30% of the other arm), purchase (5% of both) and newsletter (2% of the control).
    """
    project_id = experiment.project_id
    arms = {}
    for index in range(visitors):
        anon_id = f"{prefix}-{index}"
        arms[anon_id] = variant = services.assign(project_id=project_id, experiment_key=experiment.key, anon_id=anon_id)
        control = variant == "control"
        goals = {
            "signup": index % 10 in ((0,) if control else (0, 1, 2)),
            "purchase": index % 20 == 0,
            "newsletter": control and index % 50 == 0,
        }
        for goal, converted in goals.items():
            if converted:
                services.convert(project_id=project_id, experiment_key=experiment.key, anon_id=anon_id, goal=goal)
    for day in range(DAYS):
        noon = datetime.datetime.combine(TODAY, datetime.time(12), tzinfo=datetime.UTC)
        moment = noon - datetime.timedelta(days=DAYS - 1 - day)
        group = [f"{prefix}-{index}" for index in range(day, visitors, DAYS)]
        Assignment.objects.filter(experiment=experiment, anon_id__in=group).update(assigned_at=moment)
        Conversion.objects.filter(experiment=experiment, anon_id__in=group).update(converted_at=moment)
    return arms


@pytest.fixture
def shop(tenant):
    return services.create_experiment(
        project=tenant.project, key="checkout", variants=[("control", 50), ("b", 50)], primary_goal="purchase"
    )


def section(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end, page.index(start))]


def test_the_page_of_generated_visitors_has_every_goal_the_plan_the_quality_and_the_timeline(admin_client, shop, today):
    run(shop)
    page = admin_client.get(results_url(shop)).content.decode()

    # Every goal, one row each, the primary first and marked, Holm across the three.
    goals = section(page, 'class="results-table results-goals"', "</table>")
    assert re.findall(r"<td>(\w+)(?: \(primary\))?</td>\s*<td>b</td>", goals) == ["purchase", "newsletter", "signup"]
    assert "<td>purchase (primary)</td>" in goals
    assert "Holm&#8209;adjusted p" in goals
    assert goals.count("<tr") == 4  # the header and one row per goal
    # signup: 10% against 30% over 600 visitors is beyond doubt even after adjusting for 3 goals.
    assert "<td>yes</td>" in goals[goals.index("<td>signup</td>") :].split("</tr>")[0]
    # The primary goal is the one shown until another is picked.
    assert '<option value="purchase" selected>purchase</option>' in page

    # The plan, for the primary goal: the contract's formula and the days at the rate so far.
    exposures = dict(
        Assignment.objects.filter(experiment=shop).values_list("variant__key").annotate(n=Count("id")).order_by()
    )
    control_ids = Assignment.objects.filter(experiment=shop, variant__key="control").values("anon_id")
    converted = Conversion.objects.filter(experiment=shop, goal="purchase", anon_id__in=control_ids).count()
    p1 = converted / exposures["control"]
    p2 = p1 * 1.1
    required = math.ceil(2.801585**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2)
    smallest = min(exposures.values())
    days_left = math.ceil((required - smallest) / (smallest / DAYS))
    plan = section(page, 'class="results-plan"', "</p>")
    assert f"Plan: {required:,} exposures per variant" in plan
    assert f"About {days_left:,} more days at the current rate" in plan
    assert f"over {DAYS} days" in plan

    quality = section(page, 'class="results-quality"', "</ul>")
    assert "the exposures follow the weights" in quality
    assert "Visitors seen in more than one variant: 0." in quality
    assert f"Exposures per day: {VISITORS // DAYS} ({VISITORS:,} over {DAYS} days)." in quality

    timeline = section(page, '<svg class="results-timeline"', "</svg>")
    lines = re.findall(r'<polyline class="line [^"]+" points="([^"]+)"', timeline)
    assert len(lines) == 2
    assert all(len(points.split()) == DAYS for points in lines)
    assert len(re.findall(r'<polygon class="band', timeline)) == 1
    days = [(TODAY - datetime.timedelta(days=offset)).strftime("%d %b") for offset in range(DAYS)]
    assert all(f">{label}</text>" in timeline for label in days)


def test_a_visitor_is_never_counted_in_two_variants(shop, django_assert_num_queries):
    arms = run(shop, visitors=120)
    # Coming back after the weights changed does not move anyone.
    Variant.objects.filter(experiment=shop, key="control").update(weight=0)
    Variant.objects.filter(experiment=shop, key="b").update(weight=100)
    again = {
        anon_id: services.assign(project_id=shop.project_id, experiment_key="checkout", anon_id=anon_id)
        for anon_id in arms
    }
    assert again == arms
    with django_assert_num_queries(1):
        mixed = selectors.visitors_in_more_than_one_variant(project_id=shop.project_id, experiment_id=shop.id)
    assert mixed == 0


def test_the_page_counts_only_its_own_projects_visitors(admin_client, shop, other_tenant, today):
    theirs = services.create_experiment(
        project=other_tenant.project, key="checkout", variants=[("control", 50), ("b", 50)]
    )
    run(theirs, visitors=120, prefix="theirs")
    run(shop, visitors=60)
    page = admin_client.get(results_url(shop)).content.decode()
    assert "Exposures per day: 10 (60 over 6 days)." in page
    assert "theirs" not in page
    other = admin_client.get(results_url(theirs)).content.decode()
    assert "Exposures per day: 20 (120 over 6 days)." in other


def test_the_timeline_runs_from_the_first_exposures_day_with_cumulative_counts(shop):
    assert selectors.timeline(experiment=shop, goal=None, until=TODAY) == []
    run(shop, visitors=60)
    days = selectors.timeline(experiment=shop, goal="signup", until=TODAY + datetime.timedelta(days=1))
    assert days[0].day == TODAY - datetime.timedelta(days=DAYS - 1)
    assert len(days) == DAYS + 1
    assert [sum(variant.exposures for variant in day.results.variants) for day in days] == [10, 20, 30, 40, 50, 60, 60]
    # The last day ends where the whole-period answer does.
    whole = selectors.experiment_results(project_id=shop.project_id, experiment_key="checkout", goal="signup")
    assert [variant.conversions for variant in days[-1].results.variants] == [
        variant.conversions for variant in whole.variants
    ]


def test_the_timeline_counts_days_of_the_projects_time_zone(shop):
    shop.project.time_zone = "Europe/Berlin"
    shop.project.save(update_fields=["time_zone"])
    for anon_id in ("late", "early"):
        services.assign(project_id=shop.project_id, experiment_key=shop.key, anon_id=anon_id)
    services.convert(project_id=shop.project_id, experiment_key=shop.key, anon_id="late", goal="signup")
    # 23:30 UTC on the 18th is 00:30 on the 19th in Berlin; 22:30 UTC is still the 18th there.
    late = datetime.datetime(2026, 11, 18, 23, 30, tzinfo=datetime.UTC)
    early = datetime.datetime(2026, 11, 18, 22, 30, tzinfo=datetime.UTC)
    Assignment.objects.filter(experiment=shop, anon_id="late").update(assigned_at=late)
    Conversion.objects.filter(experiment=shop, anon_id="late").update(converted_at=late)
    Assignment.objects.filter(experiment=shop, anon_id="early").update(assigned_at=early)

    days = selectors.timeline(experiment=shop, goal="signup", until=datetime.date(2026, 11, 19))
    assert [day.day for day in days] == [datetime.date(2026, 11, 18), datetime.date(2026, 11, 19)]
    assert [sum(variant.exposures for variant in day.results.variants) for day in days] == [1, 2]
    assert [sum(variant.conversions for variant in day.results.variants) for day in days] == [0, 1]
