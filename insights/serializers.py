"""The answers of GET /v1/projects/<id>/stats, /realtime and /heatmap (see analytics.serializers)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.serializers import Constant, ResponseShape, Timestamp
from insights import heatmaps
from insights.filters import PARAMETERS, as_parameters, max_length
from insights.selectors import TOP_N
from insights.time_ranges import Interval

COUNT = {"min_value": 0}
TOP = f"The {TOP_N} largest counts, largest first."


class TotalsSerializer(ResponseShape):
    pageViews = serializers.IntegerField(source="page_views", **COUNT)
    events = serializers.IntegerField(**COUNT)
    sessions = serializers.IntegerField(**COUNT)
    visitors = serializers.IntegerField(
        **COUNT, help_text="Distinct anonIds; an estimate when visitorsEstimated (ranges holding sealed days)."
    )
    visitorsEstimated = serializers.BooleanField(
        source="visitors_estimated",
        help_text="Whether visitors is estimated (a HyperLogLog sketch) rather than counted exactly.",
    )
    visitorsStandardError = serializers.FloatField(
        source="visitors_standard_error",
        allow_null=True,
        min_value=0,
        help_text="The estimate's relative standard error (0.0020: 0.20%); null when visitors is exact.",
    )
    eventsPerSession = serializers.FloatField(source="events_per_session", allow_null=True, min_value=0)
    sessionsWithPageView = serializers.IntegerField(source="sessions_with_page_view", **COUNT)
    bouncedSessions = serializers.IntegerField(source="bounced_sessions", **COUNT)
    bounceRate = serializers.FloatField(source="bounce_rate", allow_null=True, min_value=0, max_value=1)


CHANGE = "Relative change against the previous period; null when the previous value is 0 or null."


def _change(source: str | None = None, note: str = "") -> serializers.FloatField:
    return serializers.FloatField(
        allow_null=True, help_text=f"{CHANGE}{note}", **({"source": source} if source else {})
    )


class TotalsChangeSerializer(ResponseShape):
    """(this period - previous period) / previous period, per total: 0.25 is a quarter more."""

    pageViews = _change("page_views")
    events = _change()
    sessions = _change()
    visitors = _change()
    eventsPerSession = _change("events_per_session")
    sessionsWithPageView = _change("sessions_with_page_view")
    bouncedSessions = _change("bounced_sessions")
    bounceRate = _change("bounce_rate", " The rate's own relative change, not a difference of percentage points.")


class DurationChangeSerializer(ResponseShape):
    """(this period - previous period) / previous period, for the median and the mean visit."""

    medianSeconds = _change("median_seconds")
    meanSeconds = _change("mean_seconds")


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


class PageSessionsSerializer(ResponseShape):
    path = serializers.CharField(source="value")
    sessions = serializers.IntegerField(source="count", **COUNT)


class VisitDurationSerializer(ResponseShape):
    """How long the range's sessions lasted: last event - first event in the range, in seconds."""

    sessions = serializers.IntegerField(**COUNT, help_text="The sessions measured: those of the range.")
    singleEventSessions = serializers.IntegerField(
        source="single_event_sessions", **COUNT, help_text="Sessions with one event in the range: counted as 0 s."
    )
    medianSeconds = serializers.FloatField(
        source="median_seconds", allow_null=True, min_value=0, help_text="Null with no sessions."
    )
    meanSeconds = serializers.FloatField(
        source="mean_seconds", allow_null=True, min_value=0, help_text="Null with no sessions."
    )


class FilteredBotsSerializer(ResponseShape):
    requests = serializers.IntegerField(source="*", **COUNT)


def _sessions_per(key: str, name: str) -> type[ResponseShape]:
    """The shape of a list of sessions per value of a session dimension: {key, "sessions"}."""
    return type(
        f"{name}CountSerializer",
        (ResponseShape,),
        {
            "__module__": __name__,
            "__doc__": f"Sessions per {name.lower()}; a null {key}: not known.",
            key: serializers.CharField(source="value", allow_null=True),
            "sessions": serializers.IntegerField(source="count", **COUNT),
        },
    )


BrowserCountSerializer = _sessions_per("browser", "Browser")
OsCountSerializer = _sessions_per("os", "Os")
DeviceCountSerializer = _sessions_per("device", "Device")
CountryCountSerializer = _sessions_per("country", "Country")
SourceCountSerializer = _sessions_per("source", "Source")
ChannelCountSerializer = _sessions_per("channel", "Channel")
CampaignCountSerializer = _sessions_per("utmCampaign", "Campaign")


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            parameter: {"type": "string", "minLength": 1, "maxLength": max_length(column)}
            for parameter, column in PARAMETERS.items()
        },
        "additionalProperties": False,
        "description": "The filters applied, as given; {} when none.",
    }
)
class FiltersField(serializers.Field):
    def to_representation(self, filters: dict[str, str]) -> dict[str, str]:
        return as_parameters(filters)


class TrafficStatsSerializer(ResponseShape):
    """Totals, a time series and top lists for a range (definitions: insights/selectors.py)."""

    projectId = serializers.UUIDField(source="project_id")
    from_ = Timestamp(source="time_range.start")
    to = Timestamp(source="time_range.end")
    timeZone = serializers.CharField(
        source="time_range.time_zone",
        help_text="The project's IANA time zone: dates in `from` and `to` are its days, and so are the day buckets.",
    )
    interval = serializers.ChoiceField(choices=[str(choice) for choice in Interval])
    totals = TotalsSerializer()
    previousFrom = Timestamp(
        source="time_range.previous.start", help_text="The previous period: as long on the local clock, just before."
    )
    previousTo = Timestamp(source="time_range.previous.end")
    previousTotals = TotalsSerializer(
        source="previous_totals", help_text="The totals of the previous period, with the same filters."
    )
    change = TotalsChangeSerializer()
    series = BucketSerializer(many=True)
    topPaths = PathCountSerializer(source="top_paths", many=True, help_text=TOP)
    topReferrers = ReferrerCountSerializer(source="top_referrers", many=True, help_text=TOP)
    topEventTypes = EventTypeCountSerializer(source="top_event_types", many=True, help_text=TOP)
    languages = LanguageCountSerializer(many=True, help_text=TOP)
    screenSizes = ScreenSizeCountSerializer(source="screen_sizes", many=True, help_text=TOP)
    browsers = BrowserCountSerializer(source="dimensions.browser", many=True, help_text=TOP)
    operatingSystems = OsCountSerializer(source="dimensions.os", many=True, help_text=TOP)
    devices = DeviceCountSerializer(source="dimensions.device", many=True, help_text=TOP)
    countries = CountryCountSerializer(source="dimensions.country", many=True, help_text=TOP)
    sources = SourceCountSerializer(source="dimensions.source", many=True, help_text=TOP)
    channels = ChannelCountSerializer(source="dimensions.channel", many=True, help_text=TOP)
    utmCampaigns = CampaignCountSerializer(
        source="dimensions.utm_campaign", many=True, help_text=f"{TOP} Sessions without a campaign are left out."
    )
    entryPages = PageSessionsSerializer(
        source="entry_pages", many=True, help_text=f"{TOP} Sessions per path of their first page view in the range."
    )
    exitPages = PageSessionsSerializer(
        source="exit_pages", many=True, help_text=f"{TOP} Sessions per path of their last page view in the range."
    )
    visitDuration = VisitDurationSerializer(source="visit_duration")
    previousVisitDuration = VisitDurationSerializer(
        source="previous_visit_duration", help_text="The visit durations of the previous period, with the same filters."
    )
    visitDurationChange = DurationChangeSerializer(source="visit_duration_change")
    filters = FiltersField()
    filteredBots = FilteredBotsSerializer(
        source="filtered_bots",
        help_text="Public requests refused as bots (crawlers, headless browsers) in the UTC hours that begin in "
        "the range; counted by arrival, nothing of them stored, so the filters do not apply to it.",
    )


class RealtimeSerializer(ResponseShape):
    """GET /v1/projects/<id>/realtime, which the dashboard's realtime box polls too."""

    projectId = serializers.UUIDField(source="project_id")
    at = Timestamp()
    visitors = serializers.IntegerField(**COUNT)
    perMinute = BucketSerializer(source="per_minute", many=True)


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
    timeZone = serializers.CharField(
        source="heatmap.time_range.time_zone",
        help_text="The project's IANA time zone: dates in `from` and `to` are its days.",
    )
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
