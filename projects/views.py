from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from analytics.api import (
    AdminApiView,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    admin_key_actor,
    validated_body,
)
from analytics.http import json_response
from analytics.openapi import admin_operation
from projects import selectors, services
from projects.models import DEFAULT_TIME_ZONE, TIME_ZONE_MAX_LENGTH
from projects.serializers import NewKeySerializer, ProjectListSerializer, ProjectSerializer

FILTER_BOTS_HELP = (
    "Answer requests from crawlers, bots and headless browsers without storing them (they are counted per hour)."
)


def retention_days_field(**extra) -> StrictIntegerField:
    return StrictIntegerField(
        allow_null=True,
        min_value=0,
        max_value=services.RETENTION_DAYS_MAX,
        help_text="Days its raw data is kept; null: RETENTION_DAYS; 0: kept forever.",
        **extra,
    )


def time_zone_field(**extra) -> StrictCharField:
    return StrictCharField(
        max_length=TIME_ZONE_MAX_LENGTH,
        help_text="IANA time zone name (Europe/Berlin): the stats' days, and their today, are days of this zone.",
        **extra,
    )


class ProjectInput(serializers.Serializer):
    name = StrictCharField(max_length=200, allow_blank=True)
    origins = serializers.ListField(child=StrictCharField(max_length=300), max_length=100, default=list)
    filterBots = StrictBooleanField(default=True, help_text=FILTER_BOTS_HELP)
    retentionDays = retention_days_field(default=None)
    timeZone = time_zone_field(default=DEFAULT_TIME_ZONE)


class ProjectChangeInput(serializers.Serializer):
    """Every field may be left out, keeping its value."""

    name = StrictCharField(max_length=200, allow_blank=True, required=False)
    origins = serializers.ListField(child=StrictCharField(max_length=300), max_length=100, required=False)
    filterBots = StrictBooleanField(required=False, help_text=FILTER_BOTS_HELP)
    retentionDays = retention_days_field(required=False)
    timeZone = time_zone_field(required=False)


class KeyInput(serializers.Serializer):
    label = StrictCharField(max_length=100, allow_blank=True, default="")


class ProjectsView(AdminApiView):
    @admin_operation(
        operation_id="listProjects",
        success={200: OpenApiResponse(ProjectListSerializer, description="Every project with its keys.")},
    )
    def get(self, request):
        return json_response(ProjectListSerializer.render({"projects": selectors.list_projects()}))

    @admin_operation(
        operation_id="createProject",
        request=ProjectInput,
        success={201: OpenApiResponse(ProjectSerializer, description="Created.")},
        description="400 on an empty name, an origin that is not scheme://host[:port] or a time zone that is not "
        "an IANA name.",
    )
    def post(self, request):
        data = validated_body(request, ProjectInput)
        project = services.create_project(
            name=data["name"],
            origins=data["origins"],
            filter_bots=data["filterBots"],
            retention_days=data["retentionDays"],
            time_zone=data["timeZone"],
            actor=admin_key_actor(),
        )
        return json_response(ProjectSerializer.render(project), status=201)


class ProjectView(AdminApiView):
    @admin_operation(
        operation_id="getProject",
        success={200: OpenApiResponse(ProjectSerializer, description="The project.")},
        errors=(404,),
    )
    def get(self, request, project_id: str):
        return json_response(ProjectSerializer.render(selectors.get_project(project_id=project_id)))

    @admin_operation(
        operation_id="updateProject",
        request=ProjectChangeInput,
        success={200: OpenApiResponse(ProjectSerializer, description="The project as changed.")},
        errors=(404,),
        description="Rename, re-scope, switch bot filtering, change the retention or the time zone; fields left "
        "out keep their value, and a retention change is written to the audit trail. 400 on an empty name, an "
        "origin that is not scheme://host[:port] or a time zone that is not an IANA name; 404 unknown project.",
    )
    def patch(self, request, project_id: str):
        project = selectors.get_project(project_id=project_id)
        data = validated_body(request, ProjectChangeInput)
        project = services.update_project(
            project=project,
            name=data.get("name", project.name),
            origins=data.get("origins", project.origins),
            filter_bots=data.get("filterBots", project.filter_bots),
            retention_days=data.get("retentionDays", services.UNCHANGED),
            time_zone=data.get("timeZone"),
            actor=admin_key_actor(),
        )
        return json_response(ProjectSerializer.render(project))


class ProjectKeysView(AdminApiView):
    @admin_operation(
        operation_id="mintKey",
        request=KeyInput,
        success={201: OpenApiResponse(NewKeySerializer, description="Minted.")},
        errors=(404,),
        description="A new public browser key for the project; the body (and its label) may be left out.",
    )
    def post(self, request, project_id: str):
        project = selectors.get_project(project_id=project_id)
        data = validated_body(request, KeyInput)
        api_key = services.mint_key(project=project, label=data["label"])
        return json_response(NewKeySerializer.render(api_key), status=201)


class ProjectKeyView(AdminApiView):
    @admin_operation(
        operation_id="revokeKey",
        success={204: OpenApiResponse(description="Revoked; refused from the next request on.")},
        errors=(404,),
    )
    def delete(self, request, project_id: str, key: str):
        project = selectors.get_project(project_id=project_id)
        services.revoke_project_key(project=project, key=key)
        return HttpResponse(status=204)
