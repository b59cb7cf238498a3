"""The answers of the experiments endpoints (see analytics.serializers)."""

from typing import Any

from rest_framework import serializers
from rest_framework.fields import SkipField

from analytics.serializers import OptionalChoice, ResponseShape, Timestamp
from experiments.models import Experiment
from experiments.selectors import VariantResult
from experiments.services import ConversionOutcome
from experiments.validation import KEY_REGEX, MAX_GOAL_LENGTH, WEIGHT_TOTAL

WEIGHT = {"min_value": 0, "max_value": WEIGHT_TOTAL}
PROBABILITY = {"min_value": 0, "max_value": 1}


class VariantSerializer(ResponseShape):
    key = serializers.RegexField(KEY_REGEX)
    weight = serializers.IntegerField(**WEIGHT)


class ExperimentSerializer(ResponseShape):
    id = serializers.UUIDField()
    projectId = serializers.UUIDField(source="project_id")
    key = serializers.RegexField(KEY_REGEX)
    name = serializers.CharField()
    description = serializers.CharField()
    status = serializers.ChoiceField(choices=Experiment.Status.values)
    createdAt = Timestamp(source="created_at")
    variants = VariantSerializer(many=True, help_text="2 to 20, the control first.")
    sequentialTuning = serializers.IntegerField(
        source="sequential_tuning", min_value=1, help_text="N* of the sequential test."
    )
    mde = serializers.FloatField(help_text="The minimum detectable relative effect the sample size is planned for.")
    primaryGoal = serializers.CharField(source="primary_goal", allow_null=True, max_length=MAX_GOAL_LENGTH)


class AgainstControl:
    """Mixed into a field of the comparison with the control, which the control itself (the
    variant without a comparison) leaves out."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, required=False, allow_null=True, **kwargs)

    def get_attribute(self, variant: VariantResult) -> Any:
        if variant.comparison is None:
            raise SkipField
        return super().get_attribute(variant)


class ComparisonNumber(AgainstControl, serializers.FloatField):
    pass


class ComparisonInterval(AgainstControl, serializers.ListField):
    pass


class SequentialSerializer(AgainstControl, ResponseShape):
    """The always-valid comparison; null while an arm's rate is 0 or 1 (no variance to go on)."""

    ci95 = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
    pValue = serializers.FloatField(source="p_value", **PROBABILITY)


class VariantResultSerializer(ResponseShape):
    variantKey = serializers.CharField(source="key")
    weight = serializers.IntegerField(**WEIGHT)
    exposures = serializers.IntegerField(min_value=0)
    conversions = serializers.IntegerField(min_value=0)
    rate = serializers.FloatField(**PROBABILITY)
    uplift = ComparisonNumber(source="comparison.uplift")
    pValue = ComparisonNumber(source="comparison.p_value", **PROBABILITY)
    ci95 = ComparisonInterval(source="comparison.ci95", child=serializers.FloatField(), min_length=2, max_length=2)
    chanceToBeatControl = ComparisonNumber(source="comparison.chance_to_beat_control", **PROBABILITY)
    sequential = SequentialSerializer(source="comparison.sequential")


class ResultsExperimentSerializer(ResponseShape):
    key = serializers.CharField()
    projectId = serializers.UUIDField(source="project_id")
    status = serializers.ChoiceField(choices=Experiment.Status.values)


class SampleRatioMismatchSerializer(ResponseShape):
    pValue = serializers.FloatField(source="srm_p_value", allow_null=True, **PROBABILITY)
    flagged = serializers.BooleanField(source="srm_flagged")


class SampleSizeSerializer(ResponseShape):
    mde = serializers.FloatField()
    requiredPerVariant = serializers.IntegerField(
        source="required_per_variant",
        allow_null=True,
        min_value=1,
        help_text="Exposures per variant to detect a relative change of mde (two-sided 5%, power 80%); "
        "null while the control rate is 0.",
    )
    progress = serializers.FloatField(
        allow_null=True, min_value=0, help_text="The smallest assigned arm's exposures / requiredPerVariant."
    )


class ExperimentResultsSerializer(ResponseShape):
    experiment = ResultsExperimentSerializer()
    goal = serializers.CharField(allow_null=True)
    variants = VariantResultSerializer(
        many=True, help_text="The control first; every other variant carries its comparison with the control."
    )
    srm = SampleRatioMismatchSerializer(source="*")
    sampleSize = SampleSizeSerializer(source="sample_size")


class AssignmentSerializer(ResponseShape):
    variantKey = serializers.RegexField(KEY_REGEX, source="variant_key")


class ConversionSerializer(ResponseShape):
    """recorded is true the first time for (experiment, anonId, goal); otherwise reason says why not."""

    recorded = serializers.BooleanField()
    reason = OptionalChoice(
        choices=[ConversionOutcome.DUPLICATE.value, ConversionOutcome.NOT_EXPOSED.value, ConversionOutcome.BOT.value]
    )
