"""The admin API's answers about projects and keys (see analytics.serializers)."""

from rest_framework import serializers

from analytics.serializers import ResponseShape, Timestamp
from projects.selectors import KEY_PREFIX


class KeySerializer(ResponseShape):
    key = serializers.RegexField(rf"^{KEY_PREFIX}[A-Za-z0-9_-]{{24,}}\Z", help_text="The public browser key.")
    label = serializers.CharField()
    createdAt = Timestamp(source="created_at")
    revokedAt = Timestamp(source="revoked_at", allow_null=True, help_text="ISO 8601, UTC; null while active.")


class NewKeySerializer(KeySerializer):
    projectId = serializers.UUIDField(source="project_id")


class ProjectSerializer(ResponseShape):
    id = serializers.UUIDField()
    name = serializers.CharField()
    origins = serializers.ListField(
        child=serializers.CharField(), help_text="Allowed browser origins, scheme://host[:port], normalised."
    )
    createdAt = Timestamp(source="created_at")
    filterBots = serializers.BooleanField(
        source="filter_bots", help_text="Requests from crawlers, bots and headless browsers are counted, not stored."
    )
    retentionDays = serializers.IntegerField(
        source="retention_days",
        allow_null=True,
        min_value=0,
        help_text="Days its raw data is kept; null: RETENTION_DAYS; 0: kept forever.",
    )
    timeZone = serializers.CharField(
        source="time_zone", help_text="IANA time zone name: the stats' days, and their today, are days of this zone."
    )


class ProjectWithKeysSerializer(ProjectSerializer):
    keys = KeySerializer(many=True)


class ProjectListSerializer(ResponseShape):
    projects = ProjectWithKeysSerializer(many=True)
