"""How the tables would be spread over a Citus cluster: which are distributed by project,
which are copied to every node, and which statements may touch every shard.

Written once here; the schema test (analytics/tests/test_distribution_schema.py) holds the
catalog to it, the statement test (analytics/tests/test_distribution_queries.py) holds the
ingest, read, experiment and data-rights paths to it, and docs/operations.md ("Distributing
by project (Citus)") quotes it.
"""

from __future__ import annotations

from django.db import migrations

DISTRIBUTION_COLUMN = "project_id"

# Hash-distributed by project_id, all in one co-location group: a project's rows of every
# table live on the same shard, so that a statement about one project runs on one node. The
# first table is the one the others are co-located with.
DISTRIBUTED_TABLES = (
    "ingest_session",
    "ingest_event",
    "ingest_movementsample",
    "ingest_eventkey",
    "ingest_batchclaim",
    "ingest_sessionhour",
    "ingest_hourlycount",
    "ingest_hourlycountdelta",
    "ingest_sealedday",
    "ingest_sealeddaycount",
    "ingest_sealeddayduration",
    "ingest_sealeddaysession",
    "ingest_sealeddaycell",
    "ingest_sealeddayscroll",
    "ingest_sealeddayscrollsession",
    "experiments_assignment",
    "experiments_conversion",
    "projects_filteredbothour",
)

# Partitioned by day (ingest/partitions.py); Citus distributes their partitions with them.
PARTITIONED_TABLES = ("ingest_event", "ingest_movementsample")

# Small, read on every request or joined to the distributed tables, and referenced by their
# foreign keys: copied whole to every node. Parents first: a reference table's foreign keys
# must point at tables that are reference tables already.
REFERENCE_TABLES = (
    "projects_project",
    "projects_apikey",
    "experiments_experiment",
    "experiments_variant",
)

# Tables with a project column that stay on the coordinator only: the audit trail is written
# once per action and read across projects by staff. Django's own tables (users, sessions,
# migrations, admin log, login attempts) stay there as well.
LOCAL_TABLES_WITH_PROJECT = ("projects_auditentry",)

# The functions whose statements may read or write every project's rows: whole-table
# maintenance, which Citus runs on every shard at once (function -> why). Every other
# statement on a distributed table names one project with `project_id =` (or `IN`/`= ANY` of
# one), the condition Citus routes a statement to one shard by.
MULTI_SHARD_STATEMENTS = {
    "ingest.retention.sweep_retention": (
        "Retention, hourly: drops expired day partitions after probing each for projects that "
        "keep their rows, then deletes expired rows of every project without a retention of its "
        "own, named by exclusion (NOT project_id = ANY(...))."
    ),
    "ingest.services.compact_hourly_counts": (
        "Compaction, every minute: folds every project's new per-batch count rows into the "
        "compacted counts in one statement."
    ),
    "ingest.services.rebuild_rollups": (
        "Run by hand after a migration: recomputes every project's rollups for a range of "
        "hours from the raw events, under a table lock."
    ),
    "ingest.services._start_sealing": (
        "Sealing a day, daily per project: a few milliseconds under the rollup table's lock, "
        "which on Citus locks every shard of it, so that the day's aggregates hold exactly what "
        "was committed (docs/operations.md)."
    ),
    "ingest.partitions.ensure_partitions": (
        "Every 6 hours: creates the day partitions a week ahead (DDL on the partitioned tables)."
    ),
}


def project_in_primary_key(table: str, *columns: str) -> migrations.RunSQL:
    """The migration step that appends DISTRIBUTION_COLUMN to `table`'s primary key on
    `columns`, keeping its name; reversed, it drops it again. Django's model keeps its own
    primary key field: only the database's constraint changes."""

    def primary_key(key: tuple[str, ...]) -> str:
        return (
            f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_pkey", '
            f'ADD CONSTRAINT "{table}_pkey" PRIMARY KEY ({", ".join(key)})'
        )

    return migrations.RunSQL(primary_key((*columns, DISTRIBUTION_COLUMN)), primary_key(columns))
