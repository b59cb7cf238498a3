from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers

from analytics.api import AdminApiView, StrictCharField, validated_body
from analytics.errors import ApiError, invalid_field
from analytics.http import iso, json_response, read_json_object
from experiments import selectors, services
from experiments.models import Experiment
from experiments.selectors import ExperimentResults
from experiments.services import ConversionOutcome
from experiments.validation import MAX_ANON_ID_LENGTH, MAX_GOAL_LENGTH, clean_identifier
from projects.auth import authenticate_public
from projects.selectors import get_project


class ExperimentInput(serializers.Serializer):
    projectId = StrictCharField(max_length=64)  # the API's JSON names are camelCase
    key = StrictCharField(max_length=200)
    # Checked entry by entry in variant_pairs and validate_variants, which refuse "50", 50.0 and
    # true as weights (a DRF IntegerField would accept them).
    variants = serializers.ListField(max_length=100)
    name = StrictCharField(max_length=services.MAX_NAME_LENGTH, allow_blank=True, default="")
    description = StrictCharField(max_length=services.MAX_DESCRIPTION_LENGTH, allow_blank=True, default="")


def variant_pairs(variants: list) -> list[tuple[object, object]]:
    pairs = []
    for index, variant in enumerate(variants):
        if not isinstance(variant, dict):
            raise invalid_field(f"variants[{index}]", 'must be an object like {"key": "b", "weight": 50}')
        pairs.append((variant.get("key"), variant.get("weight")))
    return pairs


def experiment_json(experiment: Experiment) -> dict:
    return {
        "id": str(experiment.id),
        "projectId": str(experiment.project_id),
        "key": experiment.key,
        "name": experiment.name,
        "description": experiment.description,
        "status": experiment.status,
        "createdAt": iso(experiment.created_at),
        "variants": [{"key": variant.key, "weight": variant.weight} for variant in experiment.variants.all()],
    }


def results_json(results: ExperimentResults) -> dict:
    experiment = results.experiment
    variants = []
    for variant in results.variants:
        row = {
            "variantKey": variant.key,
            "weight": variant.weight,
            "exposures": variant.exposures,
            "conversions": variant.conversions,
            "rate": variant.rate,
        }
        if variant.comparison is not None:
            row["uplift"] = variant.comparison.uplift
            row["pValue"] = variant.comparison.p_value
            row["ci95"] = list(variant.comparison.ci95) if variant.comparison.ci95 else None
            row["chanceToBeatControl"] = variant.comparison.chance_to_beat_control
        variants.append(row)
    return {
        "experiment": {
            "key": experiment.key,
            "projectId": str(experiment.project_id),
            "status": experiment.status,
        },
        "goal": results.goal,
        "variants": variants,
        "srm": {"pValue": results.srm_p_value, "flagged": results.srm_flagged},
    }


class ExperimentsView(AdminApiView):
    def post(self, request):
        data = validated_body(request, ExperimentInput)
        project = get_project(project_id=data["projectId"])
        experiment = services.create_experiment(
            project=project,
            key=data["key"],
            variants=variant_pairs(data["variants"]),
            name=data["name"],
            description=data["description"],
        )
        return json_response(experiment_json(experiment), status=201)


class ExperimentResultsView(AdminApiView):
    def get(self, request, key: str):
        project_id = request.query_params.get("projectId")
        if not project_id:
            raise invalid_field("projectId", "is required in the query string")
        project = get_project(project_id=project_id)
        # An empty goal= means "any goal", as when a form's goal picker is left blank.
        goal = request.query_params.get("goal") or None
        if goal is not None:
            goal = clean_identifier(goal, field="goal", max_length=MAX_GOAL_LENGTH)
        results = selectors.experiment_results(project_id=project.id, experiment_key=key, goal=goal)
        return json_response(results_json(results))


def public_post(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A browser endpoint: POST only (preflights are answered by the CORS middleware), no CSRF
    token since the apiKey in the body authenticates it."""

    @csrf_exempt
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            raise ApiError(405, "method_not_allowed", f"Use POST, not {request.method}.", headers={"Allow": "POST"})
        return view(request, *args, **kwargs)

    return wrapper


@public_post
def assign(request: HttpRequest, key: str) -> HttpResponse:
    payload = read_json_object(request)
    project = authenticate_public(request, payload, scope="assign")
    anon_id = clean_identifier(payload.get("anonId"), field="anonId", max_length=MAX_ANON_ID_LENGTH)
    variant_key = services.assign(project_id=project.id, experiment_key=key, anon_id=anon_id)
    return json_response({"variantKey": variant_key})


@public_post
def convert(request: HttpRequest, key: str) -> HttpResponse:
    payload = read_json_object(request)
    project = authenticate_public(request, payload, scope="convert")
    anon_id = clean_identifier(payload.get("anonId"), field="anonId", max_length=MAX_ANON_ID_LENGTH)
    goal = clean_identifier(payload.get("goal"), field="goal", max_length=MAX_GOAL_LENGTH)
    outcome = services.convert(project_id=project.id, experiment_key=key, anon_id=anon_id, goal=goal)
    if outcome is ConversionOutcome.RECORDED:
        return json_response({"recorded": True})
    return json_response({"recorded": False, "reason": outcome.value})
