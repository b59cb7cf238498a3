"""The answer to POST /v1/ingest (see analytics.serializers)."""

from rest_framework import serializers

from analytics.serializers import OptionalChoice, ResponseShape, Verbatim
from ingest.payload import REJECTED_LISTED


class IngestAcceptedSerializer(ResponseShape):
    events = serializers.IntegerField(min_value=0)
    movement = serializers.IntegerField(min_value=0)


class IngestRejectionSerializer(ResponseShape):
    kind = serializers.ChoiceField(choices=["event", "movement"])
    index = serializers.IntegerField(min_value=0, help_text="Position in its array.")
    reason = serializers.CharField()


class IngestResultSerializer(ResponseShape):
    accepted = IngestAcceptedSerializer(source="*")
    duplicates = serializers.IntegerField(min_value=0, help_text="Events skipped because their id was already stored.")
    # Built by the payload checks in this form, and there may be a hundred of them: passed on
    # rather than rendered one by one on the hot path.
    rejected = Verbatim(IngestRejectionSerializer, help_text=f"The first {REJECTED_LISTED} items dropped, with why.")
    rejectedCount = serializers.IntegerField(source="rejected_count", min_value=0, help_text="Every item dropped.")
    filtered = OptionalChoice(
        choices=["bot"],
        help_text="Present when the batch was checked but not stored: bot, a crawler or headless browser "
        "(accepted is then 0/0). The project's filterBots setting decides.",
    )
