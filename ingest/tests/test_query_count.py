import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ingest import services
from ingest.models import Event
from ingest.tests.conftest import make_batch

pytestmark = pytest.mark.django_db


def queries_for(tenant, *, events: int, movement: int) -> int:
    payload = make_batch(tenant.key, events=events, movement=movement)
    with CaptureQueriesContext(connection) as queries:
        result = services.ingest_batch(project_id=tenant.project.id, payload=payload, received_at=timezone.now())
    assert result.events == events
    assert result.movement == movement
    return len(queries)


@pytest.mark.parametrize(("events", "movement"), [(1, 0), (20, 50), (300, 900)])
def test_a_batch_of_any_size_is_one_statement(tenant, events, movement):
    assert queries_for(tenant, events=events, movement=movement) == 1
    assert Event.objects.count() == events


def test_the_statement_is_prepared_once_per_connection(tenant):
    for _ in range(3):
        queries_for(tenant, events=2, movement=3)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%INSERT INTO ingest_eventkey%"]
        )
        assert cursor.fetchone()[0] == 1


def test_the_key_lookup_costs_no_query_once_cached(send, tenant):
    send(make_batch(tenant.key))
    with CaptureQueriesContext(connection) as cached:
        assert send(make_batch(tenant.key)).status_code == 202
    with CaptureQueriesContext(connection) as direct:
        services.ingest_batch(project_id=tenant.project.id, payload=make_batch(tenant.key), received_at=timezone.now())
    assert len(cached) == len(direct)
