"""Building blocks of the DRF views: the admin-key permission and strict input parsing."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from analytics.errors import ApiError
from analytics.http import fingerprint, read_json_object
from analytics.openapi import AdminAutoSchema


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def admin_key_matches(provided: str) -> bool:
    """Constant-time comparison with ADMIN_API_KEY; comparing digests hides the length too."""
    expected = settings.ADMIN_API_KEY
    if not expected or not provided:
        return False
    return hmac.compare_digest(_digest(provided), _digest(expected))


def admin_key_actor() -> str:
    """How the audit trail names a caller with the admin key: a short digest of the key, which
    tells keys apart across rotations and gives nothing of the key away."""
    return f"admin key {fingerprint(settings.ADMIN_API_KEY)[:8]}"


class HasAdminKey(BasePermission):
    """Header x-admin-key must equal ADMIN_API_KEY; without ADMIN_API_KEY nobody passes."""

    def has_permission(self, request, view) -> bool:
        if not admin_key_matches(request.headers.get("x-admin-key", "")):
            raise ApiError(401, "invalid_admin_key", "Send the admin key in the x-admin-key header.")
        return True


class AdminApiView(APIView):
    permission_classes = [HasAdminKey]
    schema = AdminAutoSchema()


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A BooleanField that takes JSON true and false only, not "yes", 1 or "false"."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that refuses text, booleans and fractions instead of converting them."""

    def to_internal_value(self, data: Any) -> int:
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


def validated_body(request, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    """The JSON body checked by an input serializer; errors become 400 invalid_field.

    An empty body counts as {}, so optional-only inputs can be posted without one.
    """
    data = read_json_object(request) if request.body else {}
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
