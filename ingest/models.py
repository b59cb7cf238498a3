"""Raw analytics data: sessions, events and pointer-movement samples.

The event and movement tables grow without bound: on Postgres they are partitioned by day
(ingest/partitions.py, set up by migration 0003), and their references to projects and
sessions carry no database constraint: ingest writes them in one transaction from a
resolved key, and retention removes children before the sessions they point at. Every
table is distributed by project on Citus (analytics/distribution.py), so the database's
primary keys hold the project even where the model's `id` is the key Django knows
(migration 0011).
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F
from django.db.models.functions import MD5

from projects.models import Project

# Composite indexes below lead with these columns, so the foreign keys need none of their own.
NO_CONSTRAINT = {"on_delete": models.DO_NOTHING, "db_constraint": False, "db_index": False, "related_name": "+"}


class Session(models.Model):
    class Device(models.TextChoices):
        DESKTOP = "desktop"
        MOBILE = "mobile"
        TABLET = "tablet"

    class Channel(models.TextChoices):
        PAID_SEARCH = "Paid Search"
        EMAIL = "Email"
        ORGANIC_SOCIAL = "Organic Social"
        ORGANIC_SEARCH = "Organic Search"
        DIRECT = "Direct"
        REFERRAL = "Referral"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sessions", db_index=False)
    session_id = models.CharField(max_length=128)
    anon_id = models.CharField(max_length=128)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    referrer = models.CharField(max_length=2048, blank=True, default="")
    language = models.CharField(max_length=35, blank=True, default="")
    screen_width = models.PositiveIntegerField(null=True, blank=True)
    screen_height = models.PositiveIntegerField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    # From the session's first batch (ingest/enrichment.py), never changed by later ones. Short,
    # normalised values that the rollups can group by; null on rows stored before they existed,
    # and for a country or a campaign parameter that is not known.
    browser = models.CharField(max_length=64, null=True, blank=True)
    os = models.CharField(max_length=64, null=True, blank=True)
    device = models.CharField(max_length=8, null=True, blank=True, choices=Device.choices)
    country = models.CharField(max_length=2, null=True, blank=True, help_text="ISO 3166-1 alpha-2")
    source = models.CharField(max_length=255, null=True, blank=True)
    channel = models.CharField(max_length=16, null=True, blank=True, choices=Channel.choices)
    utm_source = models.CharField(max_length=255, null=True, blank=True)
    utm_medium = models.CharField(max_length=255, null=True, blank=True)
    utm_campaign = models.CharField(max_length=255, null=True, blank=True)
    utm_term = models.CharField(max_length=255, null=True, blank=True)
    utm_content = models.CharField(max_length=255, null=True, blank=True)
    # Kept by the ingest statement for the SessionHour rollup: the UTC hour of the session's
    # first events, and whether its events fall in more than one hour (null: not known, as for
    # rows written around the ingest statement until `rebuild_rollups` runs).
    first_event_hour = models.DateTimeField(null=True, blank=True)
    spans_hours = models.BooleanField(null=True, blank=True)
    # Kept by the ingest statement for the sealed days' scroll depth: the UTC day of the
    # session's first movement samples, and whether its samples fall on more than one day
    # (such a session's depth on a page is combined across days, not counted per day).
    first_sample_day = models.DateField(null=True, blank=True)
    samples_span_days = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "session_id"], name="session_unique_per_project")]
        indexes = [
            models.Index(fields=["project", "last_seen_at"], name="session_project_seen"),
            # An erasure or a hand-over finds a visitor's sessions by anonId and project.
            models.Index(fields=["anon_id", "project"], name="session_anon_id"),
        ]

    def __str__(self) -> str:
        return self.session_id


class Event(models.Model):
    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    session = models.ForeignKey(Session, **NO_CONSTRAINT)
    client_id = models.CharField(max_length=64, null=True, blank=True, help_text="The id the client gave.")
    type = models.CharField(max_length=64)
    path = models.CharField(max_length=2048, blank=True, default="")
    props = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(help_text="Client time, corrected for clock skew.")
    received_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["project", "occurred_at"], name="event_project_time"),
            # An erasure or a hand-over finds a visitor's events by session and project.
            models.Index(fields=["session", "project"], name="event_session"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.path}"


class EventKey(models.Model):
    """The client ids already stored per project: what makes a retried batch idempotent.

    Kept apart from Event so that Event can be partitioned by time while an id stays
    unique across all of time.
    """

    pk = models.CompositePrimaryKey("project_id", "client_id")
    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    client_id = models.CharField(max_length=64)
    received_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["received_at"], name="eventkey_received")]

    def __str__(self) -> str:
        return self.client_id


class BatchClaim(models.Model):
    """The batchIds already stored per project, as digests: a retry of a batch stores nothing.

    A table of its own, so that no event id can pass for a batch's id, nor back.
    """

    pk = models.CompositePrimaryKey("project_id", "batch_key")
    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    batch_key = models.CharField(max_length=64)
    received_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["received_at"], name="batchclaim_received")]

    def __str__(self) -> str:
        return self.batch_key


class MovementSample(models.Model):
    class Kind(models.TextChoices):
        MOVE = "move"
        CLICK = "click"
        SCROLL = "scroll"

    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    session = models.ForeignKey(Session, **NO_CONSTRAINT)
    occurred_at = models.DateTimeField(help_text="Client time, corrected for clock skew.")
    x = models.IntegerField()
    y = models.IntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    path = models.CharField(max_length=2048, blank=True, default="")
    viewport_width = models.PositiveIntegerField(null=True, blank=True)
    viewport_height = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            # A heatmap reads one page's samples of one kind. The path is hashed because a
            # long one would not fit in a B-tree entry.
            models.Index(F("project"), MD5("path"), F("kind"), F("occurred_at"), name="movement_page_kind_time"),
            # An erasure or a hand-over finds a visitor's samples by session and project.
            models.Index(fields=["session", "project"], name="movement_session"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.x}, {self.y})"


class SessionDimensions(models.Model):
    """The session columns the dashboard counts sessions by and filters on, copied onto the
    rollups so that neither reads the sessions table for whole hours. Null as on the session:
    stored before enrichment, or not known (a country, a campaign)."""

    browser = models.CharField(max_length=64, null=True, blank=True)
    os = models.CharField(max_length=64, null=True, blank=True)
    device = models.CharField(max_length=8, null=True, blank=True)
    country = models.CharField(max_length=2, null=True, blank=True)
    source = models.CharField(max_length=255, null=True, blank=True)
    channel = models.CharField(max_length=16, null=True, blank=True)
    utm_campaign = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        abstract = True


# Their names, in the order the rollup statements and the dashboard list them.
SESSION_DIMENSIONS = tuple(field.name for field in SessionDimensions._meta.fields)


class SessionHour(SessionDimensions):
    """Per session and UTC hour: its events and page views in that hour, next to the
    session's dimensions (as stored on its first batch), so the dashboard reads neither
    raw events nor sessions for whole hours. Written by the ingest statement.

    Invariant: a session with more than one row has `spans_hours` set on all of them."""

    pk = models.CompositePrimaryKey("project_id", "hour", "session_id")
    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    hour = models.DateTimeField()
    session = models.ForeignKey(Session, **NO_CONSTRAINT)
    events = models.PositiveIntegerField()
    page_views = models.PositiveIntegerField()
    anon_id = models.CharField(max_length=128)
    referrer = models.CharField(max_length=2048, blank=True, default="")
    language = models.CharField(max_length=35, blank=True, default="")
    screen_width = models.PositiveIntegerField(null=True, blank=True)
    screen_height = models.PositiveIntegerField(null=True, blank=True)
    # False only when this is the session's one row: then it is the whole session, and readers
    # need not add up its rows. True when it has others, or may have.
    spans_hours = models.BooleanField()
    # The session's first and last event in this hour, and its first and last page view with
    # their paths (null without a page view): what entry and exit pages and visit durations
    # are read from. Null on rows written before migration 0010 (`rebuild_rollups` fills
    # them); readers tell those apart as rows with events but no `first_at`. At the same
    # instant the entry is the path that sorts first, the exit the one that sorts last.
    first_at = models.DateTimeField(null=True)
    last_at = models.DateTimeField(null=True)
    first_view_at = models.DateTimeField(null=True)
    entry_path = models.CharField(max_length=2048, null=True)
    last_view_at = models.DateTimeField(null=True)
    exit_path = models.CharField(max_length=2048, null=True)

    class Meta:
        indexes = [
            # The few rows that readers add up per session, found without scanning the rest.
            models.Index(fields=["project", "hour"], name="sessionhour_spanning", condition=models.Q(spans_hours=True))
        ]

    def __str__(self) -> str:
        return f"{self.session_id} {self.hour:%Y-%m-%d %H}h"


class HourlyCountBase(SessionDimensions):
    """How many page views a path, or events a type, had in one UTC hour: over all sessions
    (`by_dimensions` false, dimensions null), and again per combination of the sessions'
    SESSION_DIMENSIONS (`by_dimensions` true), which a filtered read sums where they match.
    Both when compacted, because the combinations are nearly as many as an hour's sessions:
    summing them for an unfiltered month read 3.5 million rows instead of 22 thousand. A
    batch appends the per-combination deltas only; compaction writes their sums."""

    class Dimension(models.TextChoices):
        PATH = "path"
        TYPE = "type"

    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    hour = models.DateTimeField()
    dimension = models.CharField(max_length=4, choices=Dimension.choices)
    value = models.CharField(max_length=2048)
    # Signed: an erasure appends the negative of the counts it took out (see
    # ingest/statements.py); only the sum of a key's rows means anything.
    count = models.IntegerField()
    by_dimensions = models.BooleanField(default=False)

    class Meta(SessionDimensions.Meta):
        abstract = True

    def __str__(self) -> str:
        return f"{self.dimension} {self.value}: {self.count}"


class HourlyCount(HourlyCountBase):
    """Compacted counts: what `compact_hourly_counts` folded in from HourlyCountDelta. A key
    can have more than one row (two compactions at once); readers sum them."""

    class Meta:
        indexes = [
            models.Index(fields=["project", "hour"], name="hourlycount_project_hour"),
            # The few rows over all sessions, which unfiltered reads sum, found without the rest.
            models.Index(
                fields=["project", "hour"], name="hourlycount_all_sessions", condition=models.Q(by_dimensions=False)
            ),
        ]


class HourlyCountDelta(HourlyCountBase):
    """What each ingest batch adds, per combination of the session dimensions, appended and
    never updated, so concurrent batches never wait on one another's counters. Kept small by
    frequent compaction, hence no index but the primary key."""


class SealedDay(models.Model):
    """A UTC day of a project whose session-hour rows were aggregated once all its hours were
    old enough (ingest.services.seal_day): the day's sessions counted per value (SealedDayCount), their
    durations (SealedDayDuration) and visitors (a HyperLogLog sketch), so that the dashboard
    reads a day's numbers instead of its sessions. Only sessions all of whose rows lie in the
    day are counted; the rows in the day of the others (SealedDaySession) are read per session.

    `stale` is set by every statement that changes the day's session-hour rows (ingest,
    erasure, rebuild): a stale day is read per session until it is sealed again."""

    pk = models.CompositePrimaryKey("project_id", "day")
    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    day = models.DateField()
    stale = models.BooleanField(default=False)
    # Null while the day is being sealed (ingest/statements.py, SEAL_START_SQL): not read yet.
    sealed_at = models.DateTimeField(null=True)
    # The day's sessions with a time (rows written before ingest migration 0010 have none):
    # how many, how many had one event, and the sum of their durations in microseconds.
    timed_sessions = models.BigIntegerField()
    single_event_sessions = models.BigIntegerField()
    duration_us = models.BigIntegerField()
    # HyperLogLog registers (one byte each) of the anonIds of every row of the day, those of
    # sessions that cross a midnight included.
    visitors = models.BinaryField()

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d}{' (stale)' if self.stale else ''}"


class SealedDayCount(models.Model):
    """Sessions (and for the totals row, their events, page views, sessions with a page view
    and bounced sessions) of a sealed day per value of one breakdown: `dimension` is "totals",
    "referrer", "language", "screen" (width and height), a SESSION_DIMENSIONS column, "entry"
    or "exit" (the path of the first or last page view of timed sessions)."""

    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    day = models.DateField()
    dimension = models.CharField(max_length=16)
    value = models.CharField(max_length=2048, null=True)
    screen_width = models.PositiveIntegerField(null=True)
    screen_height = models.PositiveIntegerField(null=True)
    sessions = models.BigIntegerField()
    events = models.BigIntegerField()
    page_views = models.BigIntegerField()
    viewed = models.BigIntegerField()
    bounced = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["project", "day"], name="sealedcount_project_day")]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.dimension} {self.value}: {self.sessions}"


class SealedDayDuration(models.Model):
    """The visit durations (microseconds) of a sealed day's timed sessions, sorted, per bin
    (ingest.statements.DURATION_BIN): a median is found by counting bins, then reading the
    values of the one or two bins that hold it."""

    pk = models.CompositePrimaryKey("project_id", "day", "bin")
    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    day = models.DateField()
    bin = models.IntegerField()
    sessions = models.BigIntegerField()
    micros = ArrayField(models.BigIntegerField())

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} bin {self.bin}: {self.sessions}"


class SealedDaySession(models.Model):
    """The session-hour rows, inside a sealed day, of sessions that also have rows outside it
    (a midnight crossed, a late event): read per session, with their other rows."""

    pk = models.CompositePrimaryKey("project_id", "day", "hour", "session_id")
    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    day = models.DateField()
    hour = models.DateTimeField()
    session = models.ForeignKey(Session, **NO_CONSTRAINT)

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.session_id} {self.hour:%H}h"


class SealedDayCell(models.Model):
    """Clicks or pointer moves of a sealed day on one page, per cell of the heatmap grid
    (ingest.statements.CELL_COLUMN, CELL_ROW): a heatmap sums its sealed days' cells instead of
    binning their samples."""

    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    day = models.DateField()
    path = models.CharField(max_length=2048)
    kind = models.CharField(max_length=8, choices=MovementSample.Kind.choices)
    column = models.SmallIntegerField()
    row = models.SmallIntegerField()
    samples = models.BigIntegerField()

    class Meta:
        indexes = [
            # A heatmap reads one page's cells of one kind over the range's sealed days; the
            # path is hashed as in movement_page_kind_time.
            models.Index(F("project"), MD5("path"), F("kind"), F("day"), name="sealedcell_page_kind_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.path} {self.kind} ({self.column}, {self.row}): {self.samples}"


class SealedDayScroll(models.Model):
    """Sessions of a sealed day on one page by how many scroll steps their deepest scroll
    reached (ingest.statements.SCROLL_REACHED), for the sessions all of whose samples lie in
    the day; the others are SealedDayScrollSession rows."""

    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    day = models.DateField()
    path = models.CharField(max_length=2048)
    reached = models.SmallIntegerField()
    sessions = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(F("project"), MD5("path"), F("day"), name="sealedscroll_page_day")]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.path} {self.reached} steps: {self.sessions}"


class SealedDayScrollSession(models.Model):
    """The deepest scroll in a sealed day on one page of a session whose samples also fall on
    other days: combined with its depth on those days when a range holds more than one."""

    project = models.ForeignKey(Project, **NO_CONSTRAINT)
    day = models.DateField()
    path = models.CharField(max_length=2048)
    session = models.ForeignKey(Session, **NO_CONSTRAINT)
    depth = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(F("project"), MD5("path"), F("day"), name="sealedscrollsession_page_day")]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.path} {self.session_id}: {self.depth}"


# What a sealed day holds besides its SealedDay row: deleted with it, and replaced when the day
# is sealed again.
SEALED_DAY_AGGREGATES = (
    SealedDayCount,
    SealedDayDuration,
    SealedDaySession,
    SealedDayCell,
    SealedDayScroll,
    SealedDayScrollSession,
)
