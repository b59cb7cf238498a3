"""The dashboard's reads against a real streaming replica (analytics/tests/replica_pair.py):
the primary serves none of them, the numbers are the replica's moment, and a lagging replica
gives older numbers, never an error.

Expected numbers, by hand: the first traffic is two sessions with three page views (all on
2025-03-10), the experiment's control saw 4 visitors of whom 1 converted and b 4 of whom 2;
the traffic added later is one session with two page views, and 2 more exposures of b, both
converted.
"""

import copy
import re

import pytest
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext

from analytics.replica import REPLICA, read_alias
from analytics.tests import replica_pair
from experiments import services as experiments
from experiments.models import Assignment, Conversion
from experiments.tests.helpers import expose
from ingest.models import Event, HourlyCount, HourlyCountDelta, MovementSample, Session, SessionHour
from ingest.tests.factories import make_event, make_session
from projects import services as projects
from projects.models import FilteredBotHour

DATA_TABLES = {
    model._meta.db_table
    for model in (
        Event,
        Session,
        HourlyCount,
        HourlyCountDelta,
        SessionHour,
        MovementSample,
        FilteredBotHour,
        Assignment,
        Conversion,
    )
}
RANGE = {"from": "2025-03-10", "to": "2025-03-11"}


@pytest.fixture
def pair(django_db_blocker):
    """The default connection on the pair's migrated primary, the replica alias on its replica."""
    started = replica_pair.start_pair()
    default = connections[DEFAULT_DB_ALIAS]
    saved = copy.deepcopy(default.settings_dict)
    host = {"HOST": str(started.folder), "NAME": replica_pair.DATABASE}
    with django_db_blocker.unblock():
        try:
            default.close()
            default.settings_dict.update(host, PORT=str(replica_pair.PRIMARY_PORT))
            call_command("migrate", verbosity=0, interactive=False)
            connections.settings[REPLICA] = {**copy.deepcopy(saved), **host, "PORT": str(replica_pair.REPLICA_PORT)}
            started.wait_for_replay()
            yield started
        finally:
            if REPLICA in connections.settings:
                connections[REPLICA].close()
                del connections[REPLICA]
                del connections.settings[REPLICA]
            default.close()
            default.settings_dict.clear()
            default.settings_dict.update(saved)
            replica_pair.stop_pair(started)


def page_views_and_results(admin_api, project) -> tuple[int, list[tuple[int, int]]]:
    stats = admin_api.get(f"/v1/projects/{project.id}/stats", RANGE)
    results = admin_api.get("/v1/experiments/checkout/results", {"projectId": str(project.id)})
    assert (stats.status_code, results.status_code) == (200, 200), (stats.content, results.content)
    variants = [(row["exposures"], row["conversions"]) for row in results.json()["variants"]]
    return stats.json()["totals"]["pageViews"], variants


def tables_named(queries: list[dict]) -> set[str]:
    """The data tables the statements name, quoted by the ORM or bare in raw SQL."""
    return {table for table in DATA_TABLES for query in queries if re.search(rf"\b{table}\b", query["sql"])}


def test_the_dashboards_reads_go_to_the_replica_and_show_its_moment(pair, admin_api):
    assert read_alias() == REPLICA
    project = projects.create_project(name="shop", origins=["https://shop.example"])
    first = make_session(project, anon_id="A")
    make_event(first, "2025-03-10 09:00", path="/")
    make_event(first, "2025-03-10 09:05", path="/pricing")
    make_event(make_session(project, anon_id="B"), "2025-03-10 12:00", path="/")
    checkout = experiments.create_experiment(project=project, key="checkout", variants=[("control", 50), ("b", 50)])
    expose(checkout, "control", count=4, converted=1)
    expose(checkout, "b", count=4, converted=2)
    pair.wait_for_replay()

    with (
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_primary,
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
    ):
        assert page_views_and_results(admin_api, project) == (3, [(4, 1), (4, 2)])
    assert tables_named(on_primary.captured_queries) == set()
    answered = {model._meta.db_table for model in (Session, HourlyCount, Assignment, Conversion)}
    assert answered <= tables_named(on_replica.captured_queries)

    pair.pause_replay()
    later = make_session(project, anon_id="C")
    make_event(later, "2025-03-10 15:00", path="/")
    make_event(later, "2025-03-10 15:01", path="/docs")
    expose(checkout, "b", count=2, converted=2, prefix="later-")
    assert Event.objects.filter(project=project).count() == 5  # on the primary, committed
    assert page_views_and_results(admin_api, project) == (3, [(4, 1), (4, 2)])

    pair.resume_replay()
    pair.wait_for_replay()
    assert page_views_and_results(admin_api, project) == (5, [(4, 1), (6, 4)])


def test_a_replica_that_is_down_answers_503_and_the_primary_keeps_ingesting(pair, admin_api):
    project = projects.create_project(name="shop", origins=["https://shop.example"])
    pair.wait_for_replay()
    assert admin_api.get(f"/v1/projects/{project.id}/stats", RANGE).status_code == 200

    pair.stop_replica()
    response = admin_api.get(f"/v1/projects/{project.id}/stats", RANGE)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    assert response["Retry-After"] == "5"
    make_event(make_session(project, anon_id="A"), "2025-03-10 09:00")
    assert Event.objects.filter(project=project).count() == 1
