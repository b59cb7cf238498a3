"""What the admin pages of more than one app share."""

from django.http import HttpRequest


class ReadOnlyPermissions:
    """For a ModelAdmin whose rows staff may look at but never add, change or delete: raw
    data, written only by the service, and the audit trail."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
