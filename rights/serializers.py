"""The answers of the data-rights endpoints (see analytics.serializers)."""

from rest_framework import serializers

from analytics.serializers import ResponseShape


class ErasedCountsSerializer(ResponseShape):
    """Rows deleted, per kind."""

    sessions = serializers.IntegerField(min_value=0)
    events = serializers.IntegerField(min_value=0)
    movement = serializers.IntegerField(min_value=0)
    assignments = serializers.IntegerField(min_value=0)
    conversions = serializers.IntegerField(min_value=0)


class ErasureSerializer(ResponseShape):
    deleted = ErasedCountsSerializer()
