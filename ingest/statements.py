"""The SQL of the write path, composed from shared pieces.

Every row of the event tables and their rollups is written by `STORE_SQL` (the API, one
session a statement; `generate_traffic`, hundreds) or, for rows that reached the tables some
other way, recomputed by `REBUILD_ROLLUPS_SQL`. Both end in the same `_rollup_ctes`, so a
session column the dashboard reads is added to the session upsert and to `_rollup_ctes`, and
nowhere else.
"""

from ingest import enrichment
from ingest.models import (
    SEALED_DAY_AGGREGATES,
    SESSION_DIMENSIONS,
    BatchClaim,
    Event,
    EventKey,
    HourlyCount,
    HourlyCountDelta,
    MovementSample,
    SealedDay,
    SealedDayCell,
    SealedDayCount,
    SealedDayDuration,
    SealedDayScroll,
    SealedDayScrollSession,
    SealedDaySession,
    Session,
    SessionHour,
)
from ingest.sketches import registers_sql

SESSIONS = Session._meta.db_table
EVENTS = Event._meta.db_table
EVENT_KEYS = EventKey._meta.db_table
BATCH_CLAIMS = BatchClaim._meta.db_table
SAMPLES = MovementSample._meta.db_table
SESSION_HOURS = SessionHour._meta.db_table
HOURLY_COUNTS = HourlyCount._meta.db_table
HOURLY_DELTAS = HourlyCountDelta._meta.db_table
SEALED_DAYS = SealedDay._meta.db_table
SEALED_COUNTS = SealedDayCount._meta.db_table
SEALED_DURATIONS = SealedDayDuration._meta.db_table
SEALED_SESSIONS = SealedDaySession._meta.db_table
SEALED_CELLS = SealedDayCell._meta.db_table
SEALED_SCROLLS = SealedDayScroll._meta.db_table
SEALED_SCROLL_SESSIONS = SealedDayScrollSession._meta.db_table

# The heatmap grid (insights/heatmaps.py explains it): positions in units of 1/REFERENCE_WIDTH
# of the sample's viewport width, binned in CELL x CELL cells, COLUMNS across and ROWS down to
# MAX_DEPTH; scroll depth counted in steps of SCROLL_STEP down to MAX_DEPTH. The sealing and
# the heatmap reads bin samples with the same pieces below.
REFERENCE_WIDTH = 1000
CELL = 20
COLUMNS = REFERENCE_WIDTH // CELL
MAX_DEPTH = 10 * REFERENCE_WIDTH
ROWS = MAX_DEPTH // CELL
SCROLL_STEP = 250
SCROLL_STEPS = MAX_DEPTH // SCROLL_STEP
# A sample a heatmap or the scroll depth counts: a known viewport width, not above the page.
# 64-bit arithmetic, so that absurd coordinates cannot overflow.
SAMPLE_COUNTED = "viewport_width > 0 AND y >= 0"
CELL_COLUMN = f"x::bigint * {COLUMNS} / viewport_width"
CELL_ROW = f"y::bigint * {COLUMNS} / viewport_width"
# A click or move inside the viewport's width and above MAX_DEPTH.
IN_GRID = f"x >= 0 AND x < viewport_width AND {CELL_ROW} < {ROWS}"
# A scroll sample's depth: the bottom edge of the viewport.
SCROLL_DEPTH = f"(y::bigint + viewport_height) * {REFERENCE_WIDTH} / viewport_width"
SCROLL_SAMPLE = f"kind = 'scroll' AND {SAMPLE_COUNTED} AND viewport_height IS NOT NULL"
# How many steps a session's deepest scroll `depth` reached, MAX_DEPTH's at most.
SCROLL_REACHED = f"least(depth / {SCROLL_STEP}, {SCROLL_STEPS})"


# The session columns of ingest/enrichment.py, set on the session's first sight only: the upsert
# below leaves them as they are.
ENRICHED = enrichment.COLUMNS
ENRICHED_COLUMNS = ", ".join(ENRICHED)
ENRICHED_COLUMNS_OF_N = ", ".join(f"n.{column}" for column in ENRICHED)
ENRICHED_COLUMN_TYPES = ", ".join(f"{column} text" for column in ENRICHED)
# The enriched columns the rollups carry, to count and filter by.
DIMENSIONS = ", ".join(SESSION_DIMENSIONS)
DIMENSIONS_OF_S = ", ".join(f"s.{column}" for column in SESSION_DIMENSIONS)
NO_DIMENSIONS = ", ".join(["NULL"] * len(SESSION_DIMENSIONS))


def _epoch(microseconds: str) -> str:
    return f"'epoch'::timestamptz + {microseconds} * interval '1 microsecond'"


def _hourly_counts(*, events: str, sign: str) -> str:
    """The CTE appending per-hour counts by type and path of the events in `events`
    (project_id, session_pk, hour, type, path), whose sessions are in `rollup_sessions`, to
    the deltas, per combination of the session dimensions only: the counts over all sessions
    are their sums, which compaction writes (COMPACT_HOURLY_COUNTS_SQL), so a batch appends
    half the rows. With `sign` "-" it takes them out again (an erasure): one definition of what
    an event counts in, so that removing one undoes exactly what storing it did."""
    return f"""hourly_counts AS (
    INSERT INTO {HOURLY_DELTAS} (project_id, hour, dimension, value, count, by_dimensions, {DIMENSIONS})
    SELECT e.project_id, e.hour, 'type', e.type, {sign}count(*), true, {DIMENSIONS_OF_S}
    FROM {events} AS e JOIN rollup_sessions AS s ON s.id = e.session_pk
    GROUP BY e.project_id, e.hour, e.type, {DIMENSIONS_OF_S}
    UNION ALL
    SELECT e.project_id, e.hour, 'path', e.path, {sign}count(*), true, {DIMENSIONS_OF_S}
    FROM {events} AS e JOIN rollup_sessions AS s ON s.id = e.session_pk
    WHERE e.type = 'page_view'
    GROUP BY e.project_id, e.hour, e.path, {DIMENSIONS_OF_S}
)"""


# The first and last event of a session's events in an hour, and its first and last page view
# with their paths (the entry and exit of that hour); at the same instant, the path that sorts
# first is the entry and the one that sorts last the exit, byte by byte (COLLATE "C"), so
# that the row is the same whatever order its events and batches arrive in.
VIEWED = "FILTER (WHERE e.type = 'page_view')"
HOUR_PAGES_AND_TIMES = f"""min(e.occurred_at), max(e.occurred_at), min(e.occurred_at) {VIEWED},
           (array_agg(e.path ORDER BY e.occurred_at, e.path COLLATE "C") {VIEWED})[1],
           max(e.occurred_at) {VIEWED},
           (array_agg(e.path ORDER BY e.occurred_at DESC, e.path COLLATE "C" DESC) {VIEWED})[1]"""
# A row with events but no first time was written before those columns existed: it stays
# without one (its times would be those of the later batches only) until rebuild_rollups.
MERGE_PAGES_AND_TIMES = """first_at = CASE WHEN h.first_at IS NULL AND h.events > 0 THEN NULL
                        ELSE LEAST(h.first_at, EXCLUDED.first_at) END,
        last_at = GREATEST(h.last_at, EXCLUDED.last_at),
        first_view_at = LEAST(h.first_view_at, EXCLUDED.first_view_at),
        entry_path = CASE WHEN h.first_view_at IS NULL
                            OR (EXCLUDED.first_view_at, EXCLUDED.entry_path COLLATE "C")
                               < (h.first_view_at, h.entry_path COLLATE "C")
                          THEN EXCLUDED.entry_path ELSE h.entry_path END,
        last_view_at = GREATEST(h.last_view_at, EXCLUDED.last_view_at),
        exit_path = CASE WHEN h.last_view_at IS NULL
                           OR (EXCLUDED.last_view_at, EXCLUDED.exit_path COLLATE "C")
                              > (h.last_view_at, h.exit_path COLLATE "C")
                         THEN EXCLUDED.exit_path ELSE h.exit_path END"""


def _mark_stale(*, hours: str, one_project: bool = True) -> str:
    """An UPDATE marking stale the sealed days (ingest.services.seal_day) that hold the hours of
    `hours` (a query of project_id, hour): where none is sealed, as for live traffic, a
    probe of the sealed days' primary key per day touched that changes nothing. The project
    is named as a parameter too where the statement is about one (`%(project)s`), so that the
    update is routed to that project's rows alone (analytics/distribution.py)."""
    project = "AND d.project_id = %(project)s" if one_project else ""
    return f"""UPDATE {SEALED_DAYS} AS d SET stale = true
    FROM (SELECT DISTINCT project_id, (hour AT TIME ZONE 'UTC')::date AS day FROM ({hours}) AS touched) AS t
    WHERE d.project_id = t.project_id AND d.day = t.day AND NOT d.stale {project}
    RETURNING 1"""


# The days a statement's new events change: those of their hours, and that of the first hour
# of their sessions, which holds a row of every session (a session all of whose rows lay in
# one sealed day stops being counted there when an event lands in another day).
SEALED_HOURS_OF_NEW_EVENTS = """
        SELECT project_id, hour FROM new_events
        UNION ALL
        SELECT project_id, first_event_hour FROM rollup_sessions
        WHERE first_event_hour IS NOT NULL AND id IN (SELECT session_pk FROM new_events)"""

# And those a statement's new movement samples change (heatmaps and scroll depth): their
# hours', and the day of their sessions' first samples (a session all of whose samples lay in
# one sealed day is counted in that day's scroll depth until a sample lands in another day).
SEALED_HOURS_OF_NEW_SAMPLES = """
        SELECT project_id, hour FROM new_samples
        UNION ALL
        SELECT project_id, first_sample_day::timestamp AT TIME ZONE 'UTC' FROM rollup_sessions
        WHERE first_sample_day IS NOT NULL AND id IN (SELECT session_pk FROM new_samples)"""


# The rollups of the events in `new_events (project_id, session_pk, hour, type, path, occurred_at)`, whose
# sessions are in `rollup_sessions (project_id, id, <dimensions>, first_event_hour, spans_hours)`
# (the dimensions: anon_id, referrer, language, screen and the SESSION_DIMENSIONS):
# - the session's row for each hour its events fall in, counts added to what is there;
# - when a session spans hours, the row of its first hour is marked as well (SessionHour's
#   invariant), through the same upsert with nothing to add: so it is found by its key, however
#   many rows the project has (as a joined UPDATE, the planner scanned them all). Where that row
#   is gone (retention), the upsert leaves an empty one, swept with its hour;
# - per-hour counts by type and path per combination of the sessions' SESSION_DIMENSIONS
#   (HourlyCountBase), appended to the deltas rather than added to a shared row, which every
#   batch would otherwise wait on;
# - the sealed days those rows change are marked stale, with those of `more_stale_hours` (a
#   query of project_id, hour) if given. `one_project`: the statement is about the project
#   `%(project)s` alone (STORE_SQL), which then names it to the sealed days too.
def _rollup_ctes(*, one_project: bool, more_stale_hours: str = "") -> str:
    stale_hours = SEALED_HOURS_OF_NEW_EVENTS + (f"\n        UNION ALL{more_stale_hours}" if more_stale_hours else "")
    return f"""
session_hours AS (
    INSERT INTO {SESSION_HOURS} AS h (
        project_id, hour, session_id, events, page_views,
        anon_id, referrer, language, screen_width, screen_height, spans_hours, {DIMENSIONS},
        first_at, last_at, first_view_at, entry_path, last_view_at, exit_path
    )
    SELECT e.project_id, e.hour, s.id, count(*), count(*) FILTER (WHERE e.type = 'page_view'),
           s.anon_id, s.referrer, s.language, s.screen_width, s.screen_height, s.spans_hours IS NOT FALSE,
           {DIMENSIONS_OF_S}, {HOUR_PAGES_AND_TIMES}
    FROM new_events AS e JOIN rollup_sessions AS s ON s.id = e.session_pk
    GROUP BY e.project_id, e.hour, s.id, s.anon_id, s.referrer, s.language, s.screen_width, s.screen_height,
             s.spans_hours, {DIMENSIONS_OF_S}
    UNION ALL
    SELECT s.project_id, s.first_event_hour, s.id, 0, 0,
           s.anon_id, s.referrer, s.language, s.screen_width, s.screen_height, true, {DIMENSIONS_OF_S},
           NULL, NULL, NULL, NULL, NULL, NULL
    FROM rollup_sessions AS s
    WHERE s.spans_hours
      AND NOT EXISTS (SELECT FROM new_events AS e WHERE e.session_pk = s.id AND e.hour = s.first_event_hour)
    ON CONFLICT (project_id, hour, session_id) DO UPDATE SET
        events = h.events + EXCLUDED.events,
        page_views = h.page_views + EXCLUDED.page_views,
        spans_hours = h.spans_hours OR EXCLUDED.spans_hours,
        {MERGE_PAGES_AND_TIMES}
    WHERE EXCLUDED.events > 0 OR NOT h.spans_hours
), sealed_stale AS (
    {_mark_stale(hours=stale_hours, one_project=one_project)}
), {_hourly_counts(events="new_events", sign="")}"""


# Sessions, events and movement samples of one project, in one statement: one round trip,
# atomic without BEGIN/COMMIT. Items travel as JSON documents that Postgres expands into rows,
# because encoding typed arrays item by item costs the web worker more CPU than the insert
# costs Postgres. An event or sample names its session by `session_key`, the session's `key`
# in `sessions`; absent, it is 0 (the API sends one session a statement, keyed 0).
#
# Data-modifying CTEs all run; `new_events` sees which ids `claimed` could insert, so an id
# already stored (a retried batch, or the same batch racing on another connection, which
# waits on the unique index) adds no event; a batch whose batch key is already claimed (a
# retry) adds nothing at all. A session row remembers the hour of its first events and
# whether its events span hours, taken from the statement's events before duplicates are
# dropped: that can only mark a session that does not span hours as one that does, which is
# slower to read, never wrong. The day of its first movement samples and whether its samples
# span days are kept the same way, for the sealed days' scroll depth.
STORE_SQL = f"""
WITH sessions AS (
    SELECT n.key, n.session_id, n.anon_id, n.referrer, n.language, n.screen_width, n.screen_height,
           n.user_agent, {_epoch("n.seen_us")} AS seen_at, {ENRICHED_COLUMNS_OF_N}
    FROM json_to_recordset(%(sessions)s::json) AS n(
        key integer, session_id text, anon_id text, referrer text, language text, screen_width integer,
        screen_height integer, user_agent text, seen_us bigint, {ENRICHED_COLUMN_TYPES}
    )
), events AS (
    SELECT coalesce(e.session_key, 0) AS session_key, e.client_id, e.type, e.path, e.props,
           {_epoch("e.occurred_us")} AS occurred_at, e.position
    FROM ROWS FROM (
        json_to_recordset(%(events)s::json)
            AS (session_key integer, client_id text, type text, path text, props jsonb, occurred_us bigint)
    ) WITH ORDINALITY AS e(session_key, client_id, type, path, props, occurred_us, position)
), event_hours AS (
    SELECT session_key, min(hour) AS first_hour, count(DISTINCT hour) > 1 AS spans
    FROM (SELECT session_key, date_trunc('hour', occurred_at, 'UTC') AS hour FROM events) AS timed
    GROUP BY session_key
), samples AS (
    SELECT coalesce(m.session_key, 0) AS session_key, {_epoch("m.occurred_us")} AS occurred_at, m.x, m.y, m.kind,
           m.path, m.viewport_width, m.viewport_height
    FROM json_to_recordset(%(samples)s::json) AS m(
        session_key integer, occurred_us bigint, x integer, y integer, kind text, path text,
        viewport_width integer, viewport_height integer
    )
), sample_days AS (
    SELECT session_key, min(day) AS first_day, count(DISTINCT day) > 1 AS spans
    FROM (SELECT session_key, (occurred_at AT TIME ZONE 'UTC')::date AS day FROM samples) AS dated
    GROUP BY session_key
), session_rows AS (
    INSERT INTO {SESSIONS} AS s (
        project_id, session_id, anon_id, first_seen_at, last_seen_at,
        referrer, language, screen_width, screen_height, user_agent, first_event_hour, spans_hours,
        first_sample_day, samples_span_days, {ENRICHED_COLUMNS}
    )
    SELECT %(project)s, n.session_id, n.anon_id, n.seen_at, n.seen_at,
           n.referrer, n.language, n.screen_width, n.screen_height, n.user_agent,
           h.first_hour, coalesce(h.spans, false), d.first_day, coalesce(d.spans, false), {ENRICHED_COLUMNS_OF_N}
    FROM sessions AS n
        LEFT JOIN event_hours AS h ON h.session_key = n.key
        LEFT JOIN sample_days AS d ON d.session_key = n.key
    ON CONFLICT (project_id, session_id) DO UPDATE SET
        last_seen_at = GREATEST(s.last_seen_at, EXCLUDED.last_seen_at),
        first_event_hour = COALESCE(s.first_event_hour, EXCLUDED.first_event_hour),
        spans_hours = s.spans_hours OR EXCLUDED.spans_hours
            OR COALESCE(s.first_event_hour <> EXCLUDED.first_event_hour, false),
        first_sample_day = COALESCE(s.first_sample_day, EXCLUDED.first_sample_day),
        samples_span_days = s.samples_span_days OR EXCLUDED.samples_span_days
            OR COALESCE(s.first_sample_day <> EXCLUDED.first_sample_day, false)
    RETURNING s.project_id, s.id, s.session_id, s.anon_id, s.referrer, s.language, s.screen_width,
              s.screen_height, s.first_event_hour, s.spans_hours, s.first_sample_day, {DIMENSIONS_OF_S}
), rollup_sessions AS (
    SELECT r.*, n.key AS session_key, n.seen_at
    FROM session_rows AS r JOIN sessions AS n ON n.session_id = r.session_id
), batch_claimed AS (
    INSERT INTO {BATCH_CLAIMS} (project_id, batch_key, received_at)
    SELECT %(project)s, %(batch_key)s::text, %(received_at)s WHERE %(batch_key)s::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING batch_key
), claimed AS (
    INSERT INTO {EVENT_KEYS} (project_id, client_id, received_at)
    SELECT %(project)s, client_id, %(received_at)s FROM events WHERE client_id IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING client_id
), new_events AS (
    INSERT INTO {EVENTS} (project_id, session_id, client_id, type, path, props, occurred_at, received_at)
    SELECT %(project)s, s.id, e.client_id, e.type, e.path, e.props, e.occurred_at, s.seen_at
    FROM events AS e JOIN rollup_sessions AS s ON s.session_key = e.session_key
    WHERE (e.client_id IS NULL OR e.client_id IN (SELECT client_id FROM claimed))
      AND (%(batch_key)s::text IS NULL OR EXISTS (SELECT FROM batch_claimed))
    -- Rows in time order, as the readers' time-ranged scans like them; at the same time, in the
    -- order they were sent.
    ORDER BY e.occurred_at, e.position
    RETURNING project_id, session_id AS session_pk, date_trunc('hour', occurred_at, 'UTC') AS hour, type, path,
              occurred_at
), new_samples AS (
    INSERT INTO {SAMPLES} (
        project_id, session_id, occurred_at, x, y, kind, path, viewport_width, viewport_height
    )
    SELECT %(project)s, s.id, m.occurred_at, m.x, m.y, m.kind, m.path, m.viewport_width, m.viewport_height
    FROM samples AS m JOIN rollup_sessions AS s ON s.session_key = m.session_key
    WHERE %(batch_key)s::text IS NULL OR EXISTS (SELECT FROM batch_claimed)
    ORDER BY m.occurred_at
    RETURNING project_id, session_id AS session_pk, date_trunc('hour', occurred_at, 'UTC') AS hour
), {_rollup_ctes(one_project=True, more_stale_hours=SEALED_HOURS_OF_NEW_SAMPLES)}
SELECT (SELECT count(*) FROM new_events), (SELECT count(*) FROM new_samples)
"""

# The rollups of whole hours recomputed from raw events, for rows that reached the tables
# without STORE_SQL (data from before the rollups existed). The lock waits for statements in
# flight (each holds ROW EXCLUSIVE on the session-hour table from its start: the table is in
# every one) and holds new ones back until commit, so the raw rows read are exactly those the
# rollups should count. One table only: locking a second could deadlock with a statement that
# took that one first. The deltas are deleted before the compacted counts, in the order
# compaction takes them: if it has moved some, this waits for it, and then sees (and deletes)
# the counts it folded them into.
REBUILD_ROLLUPS_SQL = [
    f"LOCK TABLE {SESSION_HOURS} IN SHARE ROW EXCLUSIVE MODE",
    f"DELETE FROM {SESSION_HOURS} WHERE hour >= %(start)s AND hour < %(end)s",
    # The sealed days of the chunk, whatever the events rebuilt: some of their rows may be gone.
    f"""
    UPDATE {SEALED_DAYS} SET stale = true
    WHERE day >= (%(start)s AT TIME ZONE 'UTC')::date
      AND day <= ((%(end)s - interval '1 microsecond') AT TIME ZONE 'UTC')::date AND NOT stale
    """,
    f"DELETE FROM {HOURLY_DELTAS} WHERE hour >= %(start)s AND hour < %(end)s",
    f"DELETE FROM {HOURLY_COUNTS} WHERE hour >= %(start)s AND hour < %(end)s",
    # A session's first hour and span here are those of its events inside the chunk; one whose
    # events lie in more than one chunk is settled by SETTLE_SPANS_SQL.
    f"""
    WITH new_events AS (
        SELECT project_id, session_id AS session_pk, date_trunc('hour', occurred_at, 'UTC') AS hour, type, path,
               occurred_at
        FROM {EVENTS} WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
    ), rollup_sessions AS (
        SELECT s.project_id, s.id, s.anon_id, s.referrer, s.language, s.screen_width, s.screen_height,
               t.first_event_hour, t.spans_hours, {DIMENSIONS_OF_S}
        FROM {SESSIONS} AS s JOIN (
            SELECT project_id, session_pk, min(hour) AS first_event_hour, count(DISTINCT hour) > 1 AS spans_hours
            FROM new_events GROUP BY project_id, session_pk
        ) AS t ON t.project_id = s.project_id AND t.session_pk = s.id
    ), {_rollup_ctes(one_project=False)}
    SELECT 1
    """,
]

# Sets every session's first hour and span, and the marks of its rows, from all its rollup
# rows, under the same lock: a session whose events were rebuilt in different chunks (one
# that crosses midnight, a late event) counts twice in a range holding both rows until then.
# Rows of a session are matched on the project as well, which a database distributed by
# project needs to join them where they are stored (as in the rebuild above).
SETTLE_SPANS_SQL = [
    REBUILD_ROLLUPS_SQL[0],
    f"""
    WITH spans AS (
        SELECT project_id, session_id, min(hour) AS first_hour, count(*) > 1 AS spans
        FROM {SESSION_HOURS} GROUP BY project_id, session_id
    ), marked AS (
        UPDATE {SESSION_HOURS} h SET spans_hours = t.spans
        FROM spans t
        WHERE h.project_id = t.project_id AND h.session_id = t.session_id AND h.spans_hours <> t.spans
        RETURNING h.project_id, h.hour
    ), sealed_stale AS (
        {_mark_stale(hours="SELECT project_id, hour FROM marked", one_project=False)}
    )
    UPDATE {SESSIONS} s SET first_event_hour = t.first_hour, spans_hours = t.spans
    FROM spans t
    WHERE s.project_id = t.project_id AND s.id = t.session_id
      AND (s.first_event_hour, s.spans_hours) IS DISTINCT FROM (t.first_hour, t.spans)
    """,
]

# Folds every committed delta row into the compacted counts, in one statement: the hours it
# touches are summed anew from their compacted rows and the deltas, and the counts over all
# sessions (`by_dimensions` false) are written here as the sums of the per-combination deltas,
# which are all a batch appends. Delta rows over all sessions, written by releases that
# appended both kinds, repeat their per-combination twins and are dropped. Rows a statement
# has not committed yet are not visible to the DELETE and stay for the next run; a concurrent
# run deletes other rows (or waits and skips them), so every count is in exactly one row.
C_DIMENSIONS = ", ".join(f"c.{column}" for column in SESSION_DIMENSIONS)
COMPACT_HOURLY_COUNTS_SQL = f"""
WITH moved AS (
    DELETE FROM {HOURLY_DELTAS}
    RETURNING project_id, hour, dimension, value, count, by_dimensions, {DIMENSIONS}
), combinations AS (
    SELECT * FROM moved WHERE by_dimensions
), touched AS (
    SELECT DISTINCT project_id, hour FROM moved
), folded AS (
    DELETE FROM {HOURLY_COUNTS} c USING touched t
    WHERE c.project_id = t.project_id AND c.hour = t.hour
    RETURNING c.project_id, c.hour, c.dimension, c.value, c.count, c.by_dimensions, {C_DIMENSIONS}
)
INSERT INTO {HOURLY_COUNTS} (project_id, hour, dimension, value, count, by_dimensions, {DIMENSIONS})
SELECT project_id, hour, dimension, value, sum(count), by_dimensions, {DIMENSIONS}
FROM (
    SELECT * FROM combinations
    UNION ALL
    SELECT project_id, hour, dimension, value, count, false, {NO_DIMENSIONS} FROM combinations
    UNION ALL
    SELECT * FROM folded
) AS counted
GROUP BY project_id, hour, dimension, value, by_dimensions, {DIMENSIONS}
-- An erasure's negative rows cancel what they took out: a key that sums to nothing goes.
HAVING sum(count) <> 0
"""

# One visitor's sessions, locked in id order before anything else is touched: the ingest
# statement takes a session's row first too (its upsert), so a batch of these sessions waits
# here until the erasure commits (and then stores a new session), and one in flight is
# waited for (and then erased with the rest). Other sessions' batches never wait.
LOCK_VISITOR_SESSIONS_SQL = f"""
SELECT id FROM {SESSIONS}
WHERE anon_id = %(anon_id)s AND project_id = %(project)s
ORDER BY id FOR UPDATE
"""

# Everything stored of the sessions `%(sessions)s` (locked above), found through indexes:
# events and samples by session (probing each day partition's index), their event ids by
# key, session-hour rows by key (the hours of the events and the session's first hour, the
# only rows the ingest statement writes for it). The session indexes of events and samples
# hold the project after the session, so that the project's `=` is part of the probe: with the
# session alone, the planner could AND the project's time index in and read every entry of the
# project in every partition to find a handful of rows (0.8 s instead of milliseconds on 5
# million events). The hourly counts are not deleted but
# cancelled: the negative of the events' counts is appended to the deltas by the very CTE
# that counted them, so compaction and readers never see the erasure half done, and no
# shared counter row is locked. `rollup_sessions` carries every session column, as the
# rollup CTEs may key counts on any of them.
ERASED_HOURS = "SELECT project_id, hour FROM erased_hours UNION ALL SELECT project_id, hour FROM erased_samples"
ERASE_SESSIONS_SQL = f"""
WITH rollup_sessions AS (
    SELECT * FROM {SESSIONS} WHERE project_id = %(project)s AND id = ANY(%(sessions)s)
), erased_events AS (
    DELETE FROM {EVENTS} WHERE session_id = ANY(%(sessions)s) AND project_id = %(project)s
    RETURNING project_id, session_id AS session_pk, date_trunc('hour', occurred_at, 'UTC') AS hour, type, path,
              client_id
), erased_keys AS (
    DELETE FROM {EVENT_KEYS}
    WHERE project_id = %(project)s AND client_id IN (SELECT client_id FROM erased_events WHERE client_id IS NOT NULL)
    RETURNING 1
), erased_samples AS (
    DELETE FROM {SAMPLES} WHERE session_id = ANY(%(sessions)s) AND project_id = %(project)s
    RETURNING project_id, date_trunc('hour', occurred_at, 'UTC') AS hour
), erased_hours AS (
    DELETE FROM {SESSION_HOURS}
    WHERE project_id = %(project)s AND (hour, session_id) IN (
        SELECT hour, session_pk FROM erased_events
        UNION
        SELECT first_event_hour, id FROM rollup_sessions WHERE first_event_hour IS NOT NULL
    )
    RETURNING project_id, hour
), sealed_stale AS (
    {_mark_stale(hours=ERASED_HOURS)}
), {_hourly_counts(events="erased_events", sign="-")},
erased_sessions AS (
    DELETE FROM {SESSIONS} WHERE project_id = %(project)s AND id = ANY(%(sessions)s)
    RETURNING 1
)
SELECT (SELECT count(*) FROM erased_sessions), (SELECT count(*) FROM erased_events),
       (SELECT count(*) FROM erased_samples), (SELECT count(*) FROM erased_keys),
       (SELECT count(*) FROM erased_hours)
"""


# The session columns the dashboard lists sessions by, one list each ("screen" groups width
# and height), as grouping sets of one aggregation over per-session rows: the sealing below and
# insights.selectors count through the same pieces, so a list means the same in both.
# Sessions without a campaign are left out of that list (most have none); every other list
# counts them under a null value.
BREAKDOWN_COLUMNS = ("referrer", "language", *SESSION_DIMENSIONS)
VISIT_COLUMN_NAMES = ("anon_id", "referrer", "language", "screen_width", "screen_height", *SESSION_DIMENSIONS)
VISIT_COLUMNS = ", ".join(VISIT_COLUMN_NAMES)
BREAKDOWN_NAME = (
    "CASE "
    + " ".join(f"WHEN GROUPING({column}) = 0 THEN '{column}'" for column in BREAKDOWN_COLUMNS)
    + " WHEN GROUPING(screen_width) = 0 THEN 'screen' ELSE 'totals' END"
)
BREAKDOWN_VALUE = (
    "CASE " + " ".join(f"WHEN GROUPING({column}) = 0 THEN {column}" for column in BREAKDOWN_COLUMNS) + " END"
)
BREAKDOWN_SETS = "GROUPING SETS ((), (screen_width, screen_height), {})".format(
    ", ".join(f"({column})" for column in BREAKDOWN_COLUMNS)
)
BREAKDOWN_HAVING = "HAVING GROUPING(utm_campaign) = 1 OR utm_campaign IS NOT NULL"
# What each session of `visits (event_count, view_count, ...)` adds to a breakdown's row.
BREAKDOWN_COUNTS = """COUNT(*) AS sessions, SUM(event_count) AS events, SUM(view_count) AS views,
       SUM(CASE WHEN view_count >= 1 THEN 1 ELSE 0 END) AS viewed,
       SUM(CASE WHEN view_count = 1 THEN 1 ELSE 0 END) AS bounced"""
# Every list's row, and the totals' row, from the per-session rows of `visits`.
BREAKDOWNS_OF_VISITS = f"""SELECT {BREAKDOWN_NAME} AS dimension, {BREAKDOWN_VALUE} AS value,
               screen_width, screen_height, {BREAKDOWN_COUNTS}
        FROM visits
        GROUP BY {BREAKDOWN_SETS}
        {BREAKDOWN_HAVING}"""
# Sessions per path of their first and of their last page view: one aggregation, two sets.
ENTRY_EXIT_NAME = "CASE WHEN GROUPING(entry_path) = 0 THEN 'entry' ELSE 'exit' END"
ENTRY_EXIT_PATH = "CASE WHEN GROUPING(entry_path) = 0 THEN entry_path ELSE exit_path END"
ENTRY_EXIT_SETS = "GROUPING SETS ((entry_path), (exit_path))"
# The sealed days' lists that are not of the session breakdowns: entry and exit pages, and
# the counts of events per path and type.
NOT_BREAKDOWNS = "('entry', 'exit', 'path', 'type')"
# A visit's duration in microseconds: exact to the microsecond for any visit shorter than ten
# years, and a third of the time of numeric epochs (measured).
VISIT_MICROS = "round(date_part('epoch', {last} - {first}) * 1000000)::bigint"
# The bins visit durations are counted in to find a median without sorting every visit:
# `width_bucket(micros, DURATION_BIN_BOUNDS)`, a binary search over these bounds. Below 64 µs a
# bin per value, then 32 bins per power of two (3% wide); integers, so that a longer visit
# never lands in a lower bin.
DURATION_BIN_BOUNDS = [*range(1, 64), *((32 + step) << (bits - 5) for bits in range(6, 63) for step in range(32))]

# Sealing a day takes two transactions (ingest.services.seal_day). The first, under the lock
# rebuild_rollups takes, marks the day as being sealed: not stale, no aggregates yet
# (`sealed_at` null, which readers skip). The lock waits for the ingest statements in flight
# and holds new ones back until this commits, a few milliseconds: every statement committed
# before is in what the second transaction reads, and every one after sees the row and marks
# it stale. The second aggregates the day in one snapshot and sets `sealed_at` only if no
# statement marked the day stale meanwhile (REPEATABLE READ refuses to update a row another
# transaction changed since the snapshot).
SEAL_START_SQL = [
    REBUILD_ROLLUPS_SQL[0],
    f"""
    INSERT INTO {SEALED_DAYS} (
        project_id, day, stale, sealed_at, timed_sessions, single_event_sessions, duration_us, visitors
    )
    VALUES (%(project)s, %(day)s, false, NULL, 0, 0, 0, '')
    ON CONFLICT (project_id, day) DO UPDATE SET stale = false, sealed_at = NULL
    """,
]
# Every session-hour row of one project's UTC day [start, end), for its visitors' sketch.
SEAL_VISITORS_SQL = registers_sql(
    f"SELECT anon_id FROM {SESSION_HOURS} WHERE project_id = %(project)s AND hour >= %(start)s AND hour < %(end)s"
)
# One project's UTC day, aggregated (ingest.services.seal_day). Sessions with rows outside the day
# are found among the rows of sessions that span hours (the others have one row), through
# their partial index; their rows in the day are listed and left out of the counts. The
# rest are combined per session as insights.selectors combines them, then counted. The
# day's page views per path and events per type ("path", "type": HourlyCount's dimensions,
# over all sessions) are summed from its hourly counts, every session's events included.
#
# The day's movement samples (one partition) are binned as the heatmap reads bin them: clicks
# and moves per page and cell; scroll depth per page and session, counted per step reached
# for the sessions all of whose samples lie on this day, and kept per session for the others
# (`samples_span_days`), whose depth on a page is their deepest over every day a range holds.
SEAL_DAY_SQL = [
    *(
        f"DELETE FROM {model._meta.db_table} WHERE project_id = %(project)s AND day = %(day)s"
        for model in SEALED_DAY_AGGREGATES
    ),
    f"""
INSERT INTO {SEALED_CELLS} (project_id, day, path, kind, "column", "row", samples)
SELECT %(project)s, %(day)s, path, kind, {CELL_COLUMN}, {CELL_ROW}, COUNT(*)
FROM {SAMPLES}
WHERE project_id = %(project)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
  AND kind IN ('click', 'move') AND {SAMPLE_COUNTED} AND {IN_GRID}
GROUP BY path, kind, {CELL_COLUMN}, {CELL_ROW}
""",
    f"""
WITH depths AS MATERIALIZED (
    SELECT m.path, m.session_id, m.depth, COALESCE(s.samples_span_days, true) AS crossing
    FROM (
        SELECT path, session_id, MAX({SCROLL_DEPTH}) AS depth
        FROM {SAMPLES}
        WHERE project_id = %(project)s AND occurred_at >= %(start)s AND occurred_at < %(end)s AND {SCROLL_SAMPLE}
        GROUP BY path, session_id
    ) AS m LEFT JOIN {SESSIONS} AS s ON s.project_id = %(project)s AND s.id = m.session_id
), crossing AS (
    INSERT INTO {SEALED_SCROLL_SESSIONS} (project_id, day, path, session_id, depth)
    SELECT %(project)s, %(day)s, path, session_id, depth FROM depths WHERE crossing
)
INSERT INTO {SEALED_SCROLLS} (project_id, day, path, reached, sessions)
SELECT %(project)s, %(day)s, path, {SCROLL_REACHED}, COUNT(*) FROM depths WHERE NOT crossing
GROUP BY path, {SCROLL_REACHED}
""",
    f"""
WITH crossing AS (
    INSERT INTO {SEALED_SESSIONS} (project_id, day, hour, session_id)
    SELECT project_id, %(day)s, hour, session_id
    FROM {SESSION_HOURS}
    WHERE project_id = %(project)s AND hour >= %(start)s AND hour < %(end)s AND spans_hours
      AND session_id IN (
          SELECT session_id FROM {SESSION_HOURS}
          WHERE project_id = %(project)s AND spans_hours AND (hour < %(start)s OR hour >= %(end)s)
      )
    RETURNING session_id
), visits AS MATERIALIZED (
    SELECT SUM(events) AS event_count, SUM(page_views) AS view_count,
           CASE WHEN bool_or(events > 0 AND first_at IS NULL) THEN NULL
                ELSE {VISIT_MICROS.format(last="max(last_at)", first="min(first_at)")} END AS micros,
           (array_agg(entry_path ORDER BY first_view_at, entry_path COLLATE "C")
                FILTER (WHERE first_view_at IS NOT NULL))[1] AS entry_path,
           (array_agg(exit_path ORDER BY last_view_at DESC, exit_path COLLATE "C" DESC)
                FILTER (WHERE last_view_at IS NOT NULL))[1] AS exit_path,
           {VISIT_COLUMNS}
    FROM {SESSION_HOURS}
    WHERE project_id = %(project)s AND hour >= %(start)s AND hour < %(end)s
      AND session_id NOT IN (SELECT session_id FROM crossing)
    GROUP BY session_id, {VISIT_COLUMNS}
), timed AS NOT MATERIALIZED (
    SELECT event_count, entry_path, exit_path, micros FROM visits WHERE event_count > 0 AND micros IS NOT NULL
), counted AS (
    INSERT INTO {SEALED_COUNTS} (
        project_id, day, dimension, value, screen_width, screen_height, sessions, events, page_views, viewed, bounced
    )
    SELECT %(project)s, %(day)s, dimension, value, screen_width, screen_height, sessions,
           -- Sums over no session (a day whose sessions all cross its midnights) are null.
           COALESCE(events, 0), COALESCE(views, 0), COALESCE(viewed, 0), COALESCE(bounced, 0)
    FROM (
        {BREAKDOWNS_OF_VISITS}
    ) AS breakdowns
    UNION ALL
    SELECT %(project)s, %(day)s, {ENTRY_EXIT_NAME}, {ENTRY_EXIT_PATH}, NULL, NULL, COUNT(*), 0, 0, 0, 0
    FROM timed WHERE entry_path IS NOT NULL
    GROUP BY {ENTRY_EXIT_SETS}
    UNION ALL
    SELECT %(project)s, %(day)s, dimension, value, NULL, NULL, SUM(count), 0, 0, 0, 0
    FROM (
        SELECT dimension, value, count FROM {HOURLY_COUNTS}
        WHERE project_id = %(project)s AND hour >= %(start)s AND hour < %(end)s AND NOT by_dimensions
        UNION ALL
        -- Not compacted yet: the per-combination rows, the only ones a batch appends (ROLLUP_TOP_SQL).
        SELECT dimension, value, count FROM {HOURLY_DELTAS}
        WHERE project_id = %(project)s AND hour >= %(start)s AND hour < %(end)s AND by_dimensions
    ) AS hourly
    GROUP BY dimension, value
    HAVING SUM(count) > 0
    RETURNING 1
), binned AS (
    INSERT INTO {SEALED_DURATIONS} (project_id, day, bin, sessions, micros)
    SELECT %(project)s, %(day)s, bin, COUNT(*), array_agg(micros ORDER BY micros)
    FROM (SELECT micros, width_bucket(micros, %(bounds)s::bigint[]) AS bin FROM timed) AS t
    GROUP BY bin
    RETURNING 1
)
UPDATE {SEALED_DAYS} AS d SET
    sealed_at = now(), timed_sessions = t.sessions, single_event_sessions = t.single, duration_us = t.micros,
    visitors = %(visitors)s
FROM (
    SELECT COUNT(*) AS sessions, COUNT(*) FILTER (WHERE event_count = 1) AS single, COALESCE(SUM(micros), 0) AS micros
    FROM timed
) AS t
WHERE d.project_id = %(project)s AND d.day = %(day)s AND NOT d.stale AND d.sealed_at IS NULL
RETURNING (SELECT COUNT(*) FROM visits), (SELECT COUNT(*) FROM crossing)
""",
]
