from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers

from analytics.api import AdminApiView, StrictCharField, validated_body
from analytics.errors import invalid_field
from analytics.http import json_response, plain_api_view, read_json_object
from analytics.openapi import NO_NUL, admin_operation
from experiments import selectors, services
from experiments.openapi import KEY_PATTERN, VARIANT
from experiments.serializers import (
    AssignmentSerializer,
    ConversionSerializer,
    ExperimentResultsSerializer,
    ExperimentSerializer,
)
from experiments.stats import DEFAULT_MDE, SEQUENTIAL_TUNING
from experiments.validation import (
    MAX_ANON_ID_LENGTH,
    MAX_GOAL_LENGTH,
    MAX_SEQUENTIAL_TUNING,
    MAX_VARIANTS,
    MIN_VARIANTS,
    clean_identifier,
)
from projects.auth import authenticate_public, is_filtered_bot
from projects.selectors import get_project


@extend_schema_field({"type": "array", "items": VARIANT, "minItems": MIN_VARIANTS, "maxItems": MAX_VARIANTS})
class VariantsField(serializers.ListField):
    """Entries are checked in variant_pairs and validate_variants, which refuse "50", 50.0 and
    true as weights (a DRF IntegerField would accept them)."""


@extend_schema_field({"type": "string", "pattern": KEY_PATTERN})
class ExperimentKeyField(StrictCharField):
    """Checked by services.create_experiment (clean_key), whose message names the rule."""


class CheckedByTheService(serializers.Field):
    """Passed on as sent: services.create_experiment checks it, with a message naming its rule
    (a DRF IntegerField or FloatField would turn "5000", 5000.0 or true into numbers)."""

    def to_internal_value(self, data: object) -> object:
        return data


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_SEQUENTIAL_TUNING})
class SequentialTuningField(CheckedByTheService):
    pass


@extend_schema_field({"type": "number", "exclusiveMinimum": 0})
class MdeField(CheckedByTheService):
    pass


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": MAX_GOAL_LENGTH, "pattern": NO_NUL})
class PrimaryGoalField(CheckedByTheService):
    pass


class ExperimentInput(serializers.Serializer):
    projectId = StrictCharField(max_length=64)  # the API's JSON names are camelCase
    key = ExperimentKeyField(max_length=200)
    variants = VariantsField(max_length=100)
    name = StrictCharField(max_length=services.MAX_NAME_LENGTH, allow_blank=True, default="")
    description = StrictCharField(max_length=services.MAX_DESCRIPTION_LENGTH, allow_blank=True, default="")
    sequentialTuning = SequentialTuningField(
        default=SEQUENTIAL_TUNING, help_text="N* of the sequential test: the total exposures where it is tightest."
    )
    mde = MdeField(default=DEFAULT_MDE, help_text="The relative change the sample size is planned for; 0.1 is 10%.")
    primaryGoal = PrimaryGoalField(
        default=None, allow_null=True, help_text="The goal the experiment is decided on, or null."
    )


def variant_pairs(variants: list) -> list[tuple[object, object]]:
    pairs = []
    for index, variant in enumerate(variants):
        if not isinstance(variant, dict):
            raise invalid_field(f"variants[{index}]", 'must be an object like {"key": "b", "weight": 50}')
        pairs.append((variant.get("key"), variant.get("weight")))
    return pairs


class ExperimentsView(AdminApiView):
    @admin_operation(
        operation_id="createExperiment",
        request=ExperimentInput,
        success={201: OpenApiResponse(ExperimentSerializer, description="Created.")},
        errors=(404, 409),
        description="A running experiment. 400 unless there are 2 to 20 variants with distinct keys and integer "
        "weights 0..100 adding up to 100, the first being the control, sequentialTuning is a whole number from 1, "
        "mde a number above 0 and primaryGoal a goal name or null; 404 unknown project; 409 the project "
        "already has an experiment with this key.",
    )
    def post(self, request):
        data = validated_body(request, ExperimentInput)
        project = get_project(project_id=data["projectId"])
        experiment = services.create_experiment(
            project=project,
            key=data["key"],
            variants=variant_pairs(data["variants"]),
            name=data["name"],
            description=data["description"],
            sequential_tuning=data["sequentialTuning"],
            mde=data["mde"],
            primary_goal=data["primaryGoal"],
        )
        return json_response(ExperimentSerializer.render(experiment), status=201)


class ExperimentResultsView(AdminApiView):
    @admin_operation(
        operation_id="experimentResults",
        parameters=(
            OpenApiParameter(
                "projectId", {"type": "string", "minLength": 1}, required=True, description="The experiment's project."
            ),
            OpenApiParameter(
                "goal",
                {"type": "string", "maxLength": MAX_GOAL_LENGTH, "pattern": NO_NUL},
                description="Count conversions on this goal only; empty or absent: any goal.",
            ),
        ),
        success={200: OpenApiResponse(ExperimentResultsSerializer, description="Counts and statistics per variant.")},
        errors=(400, 404),
    )
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
        return json_response(ExperimentResultsSerializer.render(results))


@plain_api_view("POST")
def assign(request: HttpRequest, key: str) -> HttpResponse:
    payload = read_json_object(request)
    project = authenticate_public(request, payload, scope="assign")
    anon_id = clean_identifier(payload.get("anonId"), field="anonId", max_length=MAX_ANON_ID_LENGTH)
    variant_key = services.assign(
        project_id=project.id, experiment_key=key, anon_id=anon_id, bot=is_filtered_bot(request, project)
    )
    return json_response(AssignmentSerializer.render({"variant_key": variant_key}))


@plain_api_view("POST")
def convert(request: HttpRequest, key: str) -> HttpResponse:
    payload = read_json_object(request)
    project = authenticate_public(request, payload, scope="convert")
    anon_id = clean_identifier(payload.get("anonId"), field="anonId", max_length=MAX_ANON_ID_LENGTH)
    goal = clean_identifier(payload.get("goal"), field="goal", max_length=MAX_GOAL_LENGTH)
    outcome = services.convert(
        project_id=project.id, experiment_key=key, anon_id=anon_id, goal=goal, bot=is_filtered_bot(request, project)
    )
    return json_response(ConversionSerializer.render(outcome))
