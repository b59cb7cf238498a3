"""The schema, read from the catalog, is one that Citus can distribute by project as
analytics/distribution.py says: every primary and unique key of a distributed table (and of
each of its partitions) holds the project column, foreign keys only go where Citus can
enforce them, and every table with a project column is placed on purpose."""

from __future__ import annotations

import pytest
from django.db import connection

from analytics.distribution import (
    DISTRIBUTED_TABLES,
    DISTRIBUTION_COLUMN,
    LOCAL_TABLES_WITH_PROJECT,
    PARTITIONED_TABLES,
    REFERENCE_TABLES,
)

pytestmark = pytest.mark.django_db

# Each distributed table with its partitions, at any depth: (the table, a relation of it).
RELATIONS_SQL = """
WITH RECURSIVE tree(root, oid) AS (
    SELECT name, to_regclass(name)::oid FROM unnest(%s::text[]) AS name
    UNION ALL
    SELECT tree.root, i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid
)
SELECT root, oid::regclass::text, oid FROM tree WHERE oid IS NOT NULL
"""
# Unique indexes (primary keys and unique constraints included) and exclusion constraints
# whose key columns do not hold the distribution column.
KEYS_WITHOUT_PROJECT_SQL = """
SELECT i.indexrelid::regclass::text
FROM pg_index i
WHERE i.indrelid = ANY(%s::oid[]) AND (i.indisunique OR i.indisexclusion)
  AND NOT EXISTS (
      SELECT FROM generate_series(1, i.indnkeyatts) AS k WHERE pg_get_indexdef(i.indexrelid, k, true) = %s
  )
ORDER BY 1
"""
# Foreign keys declared on tables (those Postgres copies onto partitions have a parent).
FOREIGN_KEYS_SQL = """
SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,
       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n),
       ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.n)
FROM pg_constraint c
WHERE c.contype = 'f' AND c.conparentid = 0 AND c.connamespace = current_schema()::regnamespace
ORDER BY 1
"""
TABLES_WITH_PROJECT_SQL = """
SELECT c.relname::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE a.attname = %s AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND c.relnamespace = current_schema()::regnamespace
ORDER BY 1
"""
COLUMNS_SQL = """
SELECT table_name::text, column_name::text, is_nullable, data_type, is_identity, column_default
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = ANY(%s)
"""
# Where a foreign key may point, by where its table lives: a reference table is copied to
# every node, so it can only reference another; a distributed row only sees its own shard and
# the copies; a coordinator's table cannot reach the shards.
ALLOWED_REFERENCES = {
    ("distributed", "distributed"),
    ("distributed", "reference"),
    ("reference", "reference"),
    ("local", "local"),
    ("local", "reference"),
}


def placement(table: str, partitions: dict[str, str]) -> str:
    table = partitions.get(table, table)
    if table in DISTRIBUTED_TABLES:
        return "distributed"
    return "reference" if table in REFERENCE_TABLES else "local"


def schema_problems() -> list[str]:
    """What would stop Citus from distributing the tables as analytics/distribution.py says;
    empty when nothing would."""
    problems = []
    with connection.cursor() as cursor:
        cursor.execute(RELATIONS_SQL, [list(DISTRIBUTED_TABLES)])
        relations = cursor.fetchall()
        partitions = {name: root for root, name, _oid in relations}
        problems += [f"{table}: no such table" for table in DISTRIBUTED_TABLES if table not in partitions]
        cursor.execute(RELATIONS_SQL, [list(REFERENCE_TABLES + LOCAL_TABLES_WITH_PROJECT)])
        known = {name for _root, name, _oid in cursor.fetchall()}
        problems += [
            f"{table}: no such table" for table in REFERENCE_TABLES + LOCAL_TABLES_WITH_PROJECT if table not in known
        ]
        problems += [
            f"{table}: partitioned, but not a partitioned table of the list"
            for table in {root for root, name, _oid in relations if name != root} - set(PARTITIONED_TABLES)
        ]

        cursor.execute(KEYS_WITHOUT_PROJECT_SQL, [[oid for _root, _name, oid in relations], DISTRIBUTION_COLUMN])
        problems += [f"{index}: a unique key without {DISTRIBUTION_COLUMN}" for (index,) in cursor.fetchall()]

        cursor.execute(TABLES_WITH_PROJECT_SQL, [DISTRIBUTION_COLUMN])
        placed = set(DISTRIBUTED_TABLES + REFERENCE_TABLES + LOCAL_TABLES_WITH_PROJECT)
        problems += [
            f"{table}: has {DISTRIBUTION_COLUMN} but is in no list of analytics/distribution.py"
            for (table,) in cursor.fetchall()
            if table not in placed
        ]

        cursor.execute(COLUMNS_SQL, [list(DISTRIBUTED_TABLES)])
        for table, column, nullable, data_type, identity, default in cursor.fetchall():
            if column == DISTRIBUTION_COLUMN and nullable == "YES":
                problems.append(f"{table}.{column}: nullable")
            generated = identity == "YES" or (default or "").startswith("nextval(")
            if generated and data_type != "bigint":
                # Citus hands each node its own range of a bigint sequence; smaller ones can
                # only be drawn on the coordinator.
                problems.append(f"{table}.{column}: a generated {data_type}, not bigint")

        cursor.execute(FOREIGN_KEYS_SQL)
        for name, source, target, columns, target_columns in cursor.fetchall():
            edge = (placement(source, partitions), placement(target, partitions))
            if edge not in ALLOWED_REFERENCES:
                problems.append(f"{name}: a foreign key from {edge[0]} {source} to {edge[1]} {target}")
            elif edge == ("distributed", "distributed") and not any(
                column == target_column == DISTRIBUTION_COLUMN
                for column, target_column in zip(columns, target_columns, strict=True)
            ):
                problems.append(f"{name}: a foreign key between distributed tables without {DISTRIBUTION_COLUMN}")
    return problems


def test_the_schema_can_be_distributed_by_project():
    assert schema_problems() == []


def test_the_lists_name_each_table_once():
    listed = DISTRIBUTED_TABLES + REFERENCE_TABLES + LOCAL_TABLES_WITH_PROJECT
    assert len(set(listed)) == len(listed)
    assert set(PARTITIONED_TABLES) <= set(DISTRIBUTED_TABLES)


@pytest.mark.parametrize(
    ("ddl", "problems"),
    [
        (
            "CREATE UNIQUE INDEX bad_session_key ON ingest_session (session_id)",
            ["bad_session_key: a unique key without project_id"],
        ),
        (
            "ALTER TABLE experiments_conversion ADD CONSTRAINT bad_once UNIQUE (experiment_id, anon_id, goal)",
            ["bad_once: a unique key without project_id"],
        ),
        (
            # project_id carried along but not part of the key.
            "CREATE UNIQUE INDEX bad_included ON ingest_eventkey (client_id) INCLUDE (project_id)",
            ["bad_included: a unique key without project_id"],
        ),
        (
            "CREATE UNIQUE INDEX bad_hash ON ingest_sessionhour (md5(project_id::text), session_id)",
            ["bad_hash: a unique key without project_id"],
        ),
        (
            "CREATE UNIQUE INDEX bad_partition_key ON ingest_event_default (id)",
            ["bad_partition_key: a unique key without project_id"],
        ),
        (
            "CREATE TABLE bad_notes (id bigint PRIMARY KEY, project_id uuid)",
            ["bad_notes: has project_id but is in no list of analytics/distribution.py"],
        ),
        (
            "ALTER TABLE projects_project ADD COLUMN bad_session bigint, ADD CONSTRAINT bad_first_session "
            "FOREIGN KEY (bad_session, id) REFERENCES ingest_session (id, project_id)",
            ["bad_first_session: a foreign key from reference projects_project to distributed ingest_session"],
        ),
        (
            "ALTER TABLE ingest_event ADD CONSTRAINT fine_session FOREIGN KEY (session_id, project_id) "
            "REFERENCES ingest_session (id, project_id)",
            [],
        ),
        (
            "ALTER TABLE ingest_session ADD CONSTRAINT bad_unique_id UNIQUE (id); "
            "ALTER TABLE ingest_sessionhour ADD CONSTRAINT bad_session FOREIGN KEY (session_id) "
            "REFERENCES ingest_session (id)",
            [
                "bad_unique_id: a unique key without project_id",
                "bad_session: a foreign key between distributed tables without project_id",
            ],
        ),
        (
            "ALTER TABLE experiments_assignment ADD CONSTRAINT bad_audit FOREIGN KEY (id) "
            "REFERENCES projects_auditentry (id)",
            ["bad_audit: a foreign key from distributed experiments_assignment to local projects_auditentry"],
        ),
        (
            "ALTER TABLE ingest_hourlycountdelta DROP CONSTRAINT ingest_hourlycountdelta_pkey, "
            "ADD CONSTRAINT bad_pkey PRIMARY KEY (id), ALTER COLUMN project_id DROP NOT NULL",
            ["bad_pkey: a unique key without project_id", "ingest_hourlycountdelta.project_id: nullable"],
        ),
        (
            "ALTER TABLE ingest_eventkey ADD COLUMN bad_serial serial",
            ["ingest_eventkey.bad_serial: a generated integer, not bigint"],
        ),
    ],
)
def test_the_check_catches_what_citus_could_not_distribute(ddl, problems):
    # Inside the test's transaction, rolled back after it.
    with connection.cursor() as cursor:
        cursor.execute(ddl)
    assert schema_problems() == problems
