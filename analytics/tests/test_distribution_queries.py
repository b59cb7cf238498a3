"""Every statement the service runs against a distributed table names one project, so that
Citus can send it to the one shard holding that project (analytics/distribution.py).

The ingest, experiment, read and data-rights paths run through the test client; each
statement is captured on its way to Postgres and explained there, and every scan of a
distributed table (or of one of its partitions) in the plan must carry `project_id = <value>`
(or `= ANY` of values) among its top-level AND-ed conditions, one project in the whole
statement. Reading the plan rather than the SQL text sees what the planner made of joins,
subqueries and ORM output: a condition on one side of a join on the project reaches the other
side there, and one under OR or NOT counts for nothing, as for Citus. Inserts write the
project column, which is never null. Statements of the whole-table maintenance in
MULTI_SHARD_STATEMENTS are let through, and must each be seen.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection, connections
from django.db.models import Q
from django.utils import timezone

from analytics.distribution import DISTRIBUTED_TABLES, DISTRIBUTION_COLUMN, MULTI_SHARD_STATEMENTS
from analytics.tests.test_distribution_schema import placement
from experiments.tests.helpers import post_text
from ingest import retention
from ingest import services as ingest_services
from ingest.models import Event, HourlyCount, Session
from ingest.partitions import DAYS_AHEAD, partition_name
from ingest.tests.conftest import make_batch
from projects import services as project_services
from rights.selectors import ExportKind

pytestmark = pytest.mark.django_db

# A distributed table or one of its day partitions, as named in SQL.
TABLE_NAME = re.compile(rf"\b({'|'.join(DISTRIBUTED_TABLES)})(_p\d{{8}}|_default)?\b")
QUERY = re.compile(r"^\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan", "Tid Range Scan", "Sample Scan"}
CONDITIONS = ("Index Cond", "Recheck Cond", "Filter", "TID Cond")
COLUMN = rf"(?:\w+\.)?{DISTRIBUTION_COLUMN}"
VALUE = r"'([0-9a-f-]{36})'::uuid"
PROJECT_CONDITIONS = (
    re.compile(rf"^{COLUMN} = {VALUE}$"),
    re.compile(rf"^{VALUE} = {COLUMN}$"),
    re.compile(rf"^{COLUMN} = ANY \('\{{([0-9a-f,-]+)\}}'::uuid\[\]\)$"),
)


@dataclass
class Statement:
    sql: str
    tables: set[str]
    # Every function on the stack when it ran, as module.qualname.
    callers: set[str]
    # EXPLAIN (FORMAT JSON) of it; None for a statement that is not a query.
    plan: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)

    @property
    def multi_shard_by(self) -> set[str]:
        return self.callers & set(MULTI_SHARD_STATEMENTS)


def callers() -> set[str]:
    frame, names = inspect.currentframe(), set()
    while frame is not None:
        names.add(f"{frame.f_globals.get('__name__')}.{frame.f_code.co_qualname}")
        frame = frame.f_back
    return names


def explain(sql: str, params: Any, wrapper) -> dict[str, Any]:
    # On a cursor of its own, outside the execute wrappers, in the statement's transaction; a
    # raw one for statements sent with numbered parameters ($1), as the ingest statement is.
    raw = re.search(r"\$1\b", sql) is not None
    with psycopg.RawCursor(wrapper.connection) if raw else wrapper.connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        return cursor.fetchone()[0][0]["Plan"]


@contextmanager
def captured_statements() -> Iterator[list[Statement]]:
    """The statements run on any connection meanwhile that name a distributed table."""
    statements: list[Statement] = []

    def capture(execute, sql, params, many, context):
        tables = {match.group(1) for match in TABLE_NAME.finditer(sql)}
        if tables:
            first = params[0] if many and params else params
            plan = explain(sql, first, context["connection"]) if QUERY.match(sql) else None
            statements.append(Statement(sql=sql, tables=tables, callers=callers(), plan=plan))
        return execute(sql, params, many, context)

    with ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(capture))
        yield statements
    for statement in statements:
        statement.problems = statement_problems(statement)


def conjuncts(condition: str) -> list[str]:
    """The AND-ed parts of a condition as EXPLAIN prints it, outer parentheses removed."""
    return _parts(condition, " AND ")


def disjuncts(condition: str) -> list[str]:
    """The OR-ed parts of a condition, as conjuncts() finds the AND-ed ones."""
    return _parts(condition, " OR ")


def _parts(condition: str, separator: str) -> list[str]:
    condition = condition.strip()
    while condition.startswith("(") and _closing(condition, 0) == len(condition) - 1:
        condition = condition[1:-1].strip()
    parts, depth, quoted, start, index = [], 0, False, 0, 0
    while index < len(condition):
        char = condition[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and condition.startswith(separator, index):
            parts.append(condition[start:index])
            start = index = index + len(separator)
            continue
        index += 1
    parts.append(condition[start:])
    if len(parts) == 1:
        return parts
    return [piece for part in parts for piece in _parts(part, separator)]


def _closing(text: str, opening: int) -> int:
    depth, quoted = 0, False
    for index in range(opening, len(text)):
        char = text[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                return index
    return -1


def projects_named(condition: str) -> set[str]:
    """The projects a condition restricts its rows to; empty when it does not. The planner may
    distribute the project over the OR-ed ranges of a bitmap scan's condition, `(project = p
    AND hour ...) OR (project = p AND hour ...)`: that restricts the rows as well, if every
    part names a project."""
    for part in conjuncts(condition):
        for pattern in PROJECT_CONDITIONS:
            match = pattern.match(part)
            if match:
                return set(match.group(1).split(","))
    parts = disjuncts(condition)
    if len(parts) == 1:
        return set()
    named = [projects_named(part) for part in parts]
    return set().union(*named) if all(named) else set()


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def statement_problems(statement: Statement) -> list[str]:
    """Why Citus could not send this statement to one shard; empty when it could (or when
    it is whole-table maintenance listed in MULTI_SHARD_STATEMENTS)."""
    if statement.multi_shard_by:
        return []
    if statement.plan is None:
        return [f"not a query, on {sorted(statement.tables)}"]
    problems, projects = [], set()
    for node in nodes(statement.plan):
        relation = node.get("Relation Name", "")
        if node["Node Type"] not in SCANS or placement(_table_of(relation), {}) != "distributed":
            continue
        named = set().union(*(projects_named(node[key]) for key in CONDITIONS if key in node))
        if not named:
            problems.append(f"{relation} read without a project")
        projects |= named
    if len(projects) > 1:
        problems.append(f"more than one project: {sorted(projects)}")
    return problems


def _table_of(relation: str) -> str:
    match = TABLE_NAME.fullmatch(relation)
    return match.group(1) if match else relation


def unrouted(statements: list[Statement]) -> list[tuple[list[str], str]]:
    return [(statement.problems, " ".join(statement.sql.split())) for statement in statements if statement.problems]


def ingest(client, tenants) -> None:
    """Batches of both projects (a new session, a retry, a later batch of the session), and
    a bot's batch."""
    for tenant in tenants:
        batch = make_batch(tenant.key, events=3, movement=3, session_id="s1", batchId="b1")
        batch["session"]["anonId"] = "alice"
        batch["events"].append({"type": "signup", "path": "/p0", "id": "signup-1"})
        batch["movement"].append({"x": 5, "y": 900, "kind": "scroll", "path": "/", "vw": 1440, "vh": 900})
        for body in (batch, batch, {**make_batch(tenant.key), "session": batch["session"]}):
            assert post_text(client, "/v1/ingest", body).status_code == 202
    bot = post_text(client, "/v1/ingest", make_batch(tenants[0].key), HTTP_USER_AGENT="Googlebot/2.1")
    assert bot.status_code == 202


def seal(client, tenant) -> None:
    """A session across the last UTC midnight but one, and a lone one before it, then the
    days due sealed: the reads find sealed days, with a session that crosses their edge."""
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    for session_id, offsets in (("night", (-60, 60)), ("evening", (-7200,))):
        batch = make_batch(tenant.key, events=len(offsets), movement=0, session_id=session_id)
        for event, offset in zip(batch["events"], offsets, strict=True):
            event["ts"] = (midnight + timedelta(seconds=offset)).timestamp() * 1000
        assert post_text(client, "/v1/ingest", batch).status_code == 202
    assert ingest_services.seal_due_days(now=timezone.now(), project_id=tenant.project.id)


def experiment(client, admin_api, admin_client, tenant) -> None:
    variants = [{"key": "a", "weight": 50}, {"key": "b", "weight": 50}]
    body = {"projectId": str(tenant.project.id), "key": "checkout", "variants": variants}
    created = admin_api.post("/v1/experiments", body, content_type="application/json")
    assert created.status_code == 201
    for action, extra in (("assign", {}), ("convert", {"goal": "buy"}), ("convert", {"goal": "buy"})):
        visitor = {"apiKey": tenant.key, "anonId": "alice", **extra}
        assert post_text(client, f"/v1/experiments/checkout/{action}", visitor).status_code == 200
    assert admin_api.get(f"/v1/experiments/checkout/results?projectId={tenant.project.id}").status_code == 200
    assert admin_client.get(f"/admin/experiments/experiment/{created.json()['id']}/results/").status_code == 200


def read(admin_api, admin_client, project) -> None:
    """The stats, heatmaps and realtime numbers, over the API and on the dashboard."""
    now, base = timezone.now(), f"/v1/projects/{project.id}"
    # A range that ends mid-hour reads raw events at its edges, joined to sessions when filtered.
    edges = {"from": (now - timedelta(hours=3, minutes=7)).isoformat(), "to": (now + timedelta(minutes=3)).isoformat()}
    for query in ({}, {"browser": "Chrome"}, edges, {**edges, "browser": "Chrome", "interval": "day"}):
        assert admin_api.get(f"{base}/stats", query).status_code == 200
    for kind in ("click", "move"):
        assert admin_api.get(f"{base}/heatmap", {"path": "/", "kind": kind}).status_code == 200
    assert admin_api.get(f"{base}/realtime").status_code == 200
    dashboard = f"/admin/projects/project/{project.id}/insights/"
    for page in ("", "?range=7d&browser=Chrome", "heatmap/?path=/", "realtime/", "csv/paths/"):
        assert admin_client.get(dashboard + page).status_code == 200


def exercise_rights(admin_api, project) -> None:
    """A hand-over, the three exports, then the erasure."""
    base = f"/v1/projects/{project.id}"
    for url in (f"{base}/visitors/alice", *(f"{base}/export?kind={kind}" for kind in ExportKind)):
        # Streamed: the rows are read as the answer is.
        assert b"".join(admin_api.get(url).streaming_content).count(b"\n") >= 2
    assert admin_api.delete(f"{base}/visitors/alice").status_code == 200


def maintain() -> None:
    """The periodic tasks, and the rebuild of the last hours' rollups."""
    now = timezone.now()
    ingest_services.compact_hourly_counts()
    ingest_services.rebuild_rollups(start=now - timedelta(hours=2), end=now)
    ingest_services.maintain_partitions()
    retention.sweep_retention(days=1)


def test_every_statement_of_the_service_names_one_project(client, admin_api, admin_client, tenant, other_tenant):
    other = other_tenant.project
    # Retention then has two groups of projects: the default one and this project's own.
    project_services.update_project(
        project=other, name=other.name, origins=other.origins, filter_bots=True, retention_days=30
    )
    # A missing day partition, for the partition task to create.
    last_day = timezone.now().date() + timedelta(days=DAYS_AHEAD - 1)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE "{partition_name("ingest_event", last_day)}"')
    with captured_statements() as statements:
        ingest(client, [tenant, other_tenant])
        seal(client, tenant)
        experiment(client, admin_api, admin_client, tenant)
        read(admin_api, admin_client, tenant.project)
        exercise_rights(admin_api, tenant.project)
        maintain()
    assert unrouted(statements) == []
    # Every table was reached by a routed statement, and every listed maintenance function ran.
    assert {table for statement in statements if not statement.multi_shard_by for table in statement.tables} == set(
        DISTRIBUTED_TABLES
    )
    assert {name for statement in statements for name in statement.multi_shard_by} == set(MULTI_SHARD_STATEMENTS)


@pytest.fixture
def stored(tenant, other_tenant):
    """A batch in each of two projects; their ids."""
    for owner in (tenant, other_tenant):
        ingest_services.ingest_batch(
            project_id=owner.project.id, payload=make_batch(owner.key), received_at=timezone.now()
        )
    return tenant.project.id, other_tenant.project.id


@pytest.mark.parametrize(
    ("query", "problems"),
    [
        (
            lambda p, o: Event.objects.filter(occurred_at__lte=timezone.now()),
            ["ingest_event_p* read without a project"],
        ),
        (lambda p, o: Event.objects.filter(Q(project_id=p) | Q(type="x")), ["ingest_event_p* read without a project"]),
        (lambda p, o: Event.objects.exclude(project_id=o), ["ingest_event_p* read without a project"]),
        # The session of each event, joined on its id only: the sessions are read across projects.
        (
            lambda p, o: Event.objects.filter(project_id=p).values("session__anon_id"),
            ["ingest_session read without a project"],
        ),
        (
            lambda p, o: Event.objects.filter(project_id=p, session__in=Session.objects.filter(project_id=o)),
            ["more than one project"],
        ),
        (lambda p, o: HourlyCount.objects.filter(project_id__in=[p, o]), ["more than one project"]),
        (lambda p, o: Event.objects.filter(project_id=p, session__project_id=p).values("session__anon_id"), []),
        (lambda p, o: HourlyCount.objects.filter(project_id__in=[p]), []),
    ],
)
def test_the_check_catches_a_statement_without_one_project(stored, query, problems):
    with captured_statements() as statements:
        list(query(*stored))
    # Which day partitions are read depends on the day; the rest is exact.
    found = {
        re.sub(r"_p\d{8}|_default", "_p*", problem).split(":")[0] for item in statements for problem in item.problems
    }
    assert found == set(problems)


def test_the_check_catches_a_statement_that_is_not_a_query(db):
    with captured_statements() as statements, connection.cursor() as cursor:
        cursor.execute("LOCK TABLE ingest_sessionhour IN SHARE MODE")
    assert [statement.problems for statement in statements] == [["not a query, on ['ingest_sessionhour']"]]


def test_listed_maintenance_may_read_every_project(stored):
    with captured_statements() as statements:
        ingest_services.compact_hourly_counts()
    assert statements and all(statement.problems == [] for statement in statements)
    assert {name for statement in statements for name in statement.multi_shard_by} == {
        "ingest.services.compact_hourly_counts"
    }


@pytest.mark.parametrize(
    ("condition", "projects"),
    [
        ("(project_id = '8c1d9a52-0d3e-4a39-9a53-0e8cbb1b6f21'::uuid)", {"8c1d9a52-0d3e-4a39-9a53-0e8cbb1b6f21"}),
        (
            "((hour >= '2025-01-01'::timestamp with time zone) AND (e.project_id = "
            "'8c1d9a52-0d3e-4a39-9a53-0e8cbb1b6f21'::uuid) AND (type = 'a AND b'::text))",
            {"8c1d9a52-0d3e-4a39-9a53-0e8cbb1b6f21"},
        ),
        (
            "(project_id = ANY ('{8c1d9a52-0d3e-4a39-9a53-0e8cbb1b6f21}'::uuid[]))",
            {"8c1d9a52-0d3e-4a39-9a53-0e8cbb1b6f21"},
        ),
        ("((project_id = '8c1d9a52-0d3e-4a39-9a53-0e8cbb1b6f21'::uuid) OR (type = 'x'::text))", set()),
        ("(NOT (project_id = ANY ('{8c1d9a52-0d3e-4a39-9a53-0e8cbb1b6f21}'::uuid[])))", set()),
        ("(NOT (project_id IS DISTINCT FROM '8c1d9a52-0d3e-4a39-9a53-0e8cbb1b6f21'::uuid))", set()),
        ("(project_id = s.project_id)", set()),
        ("(project_id = $0)", set()),
    ],
)
def test_a_project_condition_counts_only_when_every_row_must_meet_it(condition, projects):
    assert projects_named(condition) == projects
