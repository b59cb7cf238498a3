"""The answers of GET /v1/projects/<id>/stats and /heatmap (see analytics.serializers)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.serializers import Constant, ResponseShape, Timestamp
from insights import heatmaps
from insights.selectors import TOP_N
from insights.time_ranges import Interval

COUNT = {"min_value": 0}
TOP = f"The {TOP_N} largest counts, largest first."


class TotalsSerializer(ResponseShape):
    pageViews = serializers.IntegerField(source="page_views", **COUNT)
    events = serializers.IntegerField(**COUNT)
    sessions = serializers.IntegerField(**COUNT)
    visitors = serializers.IntegerField(**COUNT)
    eventsPerSession = serializers.FloatField(source="events_per_session", allow_null=True, min_value=0)
    sessionsWithPageView = serializers.IntegerField(source="sessions_with_page_view", **COUNT)
    bouncedSessions = serializers.IntegerField(source="bounced_sessions", **COUNT)
    bounceRate = serializers.FloatField(source="bounce_rate", allow_null=True, min_value=0, max_value=1)


class BucketSerializer(ResponseShape):
    start = Timestamp()
    pageViews = serializers.IntegerField(source="page_views", **COUNT)
    sessions = serializers.IntegerField(**COUNT)


class PathCountSerializer(ResponseShape):
    path = serializers.CharField(source="value")
    pageViews = serializers.IntegerField(source="count", **COUNT)


class ReferrerCountSerializer(ResponseShape):
    referrer = serializers.CharField(source="value")
    sessions = serializers.IntegerField(source="count", **COUNT)


class EventTypeCountSerializer(ResponseShape):
    type = serializers.CharField(source="value")
    events = serializers.IntegerField(source="count", **COUNT)


class LanguageCountSerializer(ResponseShape):
    language = serializers.CharField(source="value")
    sessions = serializers.IntegerField(source="count", **COUNT)


class ScreenSizeCountSerializer(ResponseShape):
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    sessions = serializers.IntegerField(**COUNT)


class FilteredBotsSerializer(ResponseShape):
    requests = serializers.IntegerField(source="*", **COUNT)


class TrafficStatsSerializer(ResponseShape):
    """Totals, a time series and top lists for a range (definitions: insights/selectors.py)."""

    projectId = serializers.UUIDField(source="project_id")
    from_ = Timestamp(source="time_range.start")
    to = Timestamp(source="time_range.end")
    timeZone = Constant("UTC")
    interval = serializers.ChoiceField(choices=[str(choice) for choice in Interval])
    totals = TotalsSerializer()
    series = BucketSerializer(many=True)
    topPaths = PathCountSerializer(source="top_paths", many=True, help_text=TOP)
    topReferrers = ReferrerCountSerializer(source="top_referrers", many=True, help_text=TOP)
    topEventTypes = EventTypeCountSerializer(source="top_event_types", many=True, help_text=TOP)
    languages = LanguageCountSerializer(many=True, help_text=TOP)
    screenSizes = ScreenSizeCountSerializer(source="screen_sizes", many=True, help_text=TOP)
    filteredBots = FilteredBotsSerializer(
        source="filtered_bots",
        help_text="Public requests refused as bots (crawlers, headless browsers) in the UTC hours that begin in "
        "the range; counted by arrival, nothing of them stored.",
    )


class ScrollStepSerializer(ResponseShape):
    depth = serializers.IntegerField(**COUNT)
    sessions = serializers.IntegerField(**COUNT)
    share = serializers.FloatField(min_value=0, max_value=1)


class ScrollDepthSerializer(ResponseShape):
    sessions = serializers.IntegerField(**COUNT)
    steps = ScrollStepSerializer(many=True)


@extend_schema_field({"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 3, "maxItems": 3})
class BinField(serializers.Field):
    def to_representation(self, cell: heatmaps.Bin) -> list[int]:
        return [cell.column, cell.row, cell.count]


class HeatmapSerializer(ResponseShape):
    """A page's clicks or moves binned on the reference viewport, and its scroll depth."""

    # Rendered from {"heatmap": heatmaps.Heatmap, "scroll_depth": heatmaps.ScrollDepth}.
    projectId = serializers.UUIDField(source="heatmap.project_id")
    path = serializers.CharField(source="heatmap.path")
    kind = serializers.ChoiceField(choices=[str(choice) for choice in heatmaps.HeatmapKind], source="heatmap.kind")
    from_ = Timestamp(source="heatmap.time_range.start")
    to = Timestamp(source="heatmap.time_range.end")
    timeZone = Constant("UTC")
    referenceWidth = Constant(heatmaps.REFERENCE_WIDTH)
    cellSize = Constant(heatmaps.CELL)
    columns = Constant(heatmaps.COLUMNS)
    rows = serializers.IntegerField(source="heatmap.rows", **COUNT)
    samples = serializers.IntegerField(source="heatmap.samples", **COUNT)
    maxCount = serializers.IntegerField(source="heatmap.max_count", **COUNT)
    bins = serializers.ListField(
        source="heatmap.bins", child=BinField(), help_text="Non-empty bins as [column, row, count]."
    )
    scrollDepth = ScrollDepthSerializer(source="scroll_depth")
