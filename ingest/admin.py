"""Raw data, read-only: staff look at it, they do not edit it."""

from datetime import timedelta

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property

from analytics.admin_pages import ReadOnlyPermissions
from ingest.models import Event, MovementSample, Session
from projects.models import Project

COUNT_CAP = 10_000
RECENT_TYPES_WINDOW = timedelta(days=1)


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows: a full COUNT(*) over millions of rows on every page
    view would cost more than the page itself."""

    @cached_property
    def count(self) -> int:
        return self.object_list[: COUNT_CAP + 1].count()


class ReadOnlyAdmin(ReadOnlyPermissions, admin.ModelAdmin):
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50


class BySessionSearch:
    """Search by exact sessionId or anonId, so the lookup can use their indexes: a sessionId
    is unique per project, so it is looked up in each project's part of that index (sessions
    keep no index of their own on sessionId, which every new session would pay for)."""

    session_lookup = "session__"
    search_help_text = "An exact sessionId or anonId."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        prefix = self.session_lookup
        projects = list(Project.objects.values_list("id", flat=True))
        by_session_id = Q(**{f"{prefix}project_id__in": projects, f"{prefix}session_id": term})
        return queryset.filter(by_session_id | Q(**{f"{prefix}anon_id": term})), False


class RecentEventTypeFilter(admin.SimpleListFilter):
    """Offers the event types of the last day: listing every type ever seen means scanning
    the whole table, while the last day is one time partition."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        since = timezone.now() - RECENT_TYPES_WINDOW
        types = Event.objects.filter(occurred_at__gte=since).values_list("type", flat=True).distinct()
        return [(event_type, event_type) for event_type in sorted(types[:100])]

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


@admin.register(Session)
class SessionAdmin(BySessionSearch, ReadOnlyAdmin):
    session_lookup = ""
    list_display = [
        "session_id",
        "anon_id",
        "project",
        "first_seen_at",
        "last_seen_at",
        "language",
        "browser",
        "device",
        "country",
        "channel",
    ]
    list_filter = ["project", "last_seen_at"]
    list_select_related = ["project"]
    search_fields = ["session_id"]
    ordering = ["-id"]


@admin.register(Event)
class EventAdmin(BySessionSearch, ReadOnlyAdmin):
    list_display = ["type", "path", "project", "session", "occurred_at", "received_at"]
    list_filter = ["project", RecentEventTypeFilter, "occurred_at"]
    list_select_related = ["project", "session"]
    search_fields = ["session__session_id"]
    ordering = ["-id"]


@admin.register(MovementSample)
class MovementSampleAdmin(BySessionSearch, ReadOnlyAdmin):
    list_display = ["kind", "x", "y", "path", "viewport_width", "viewport_height", "project", "occurred_at"]
    list_filter = ["project", "kind", "occurred_at"]
    list_select_related = ["project"]
    search_fields = ["session__session_id"]
    ordering = ["-id"]
