"""An export streams: a million rows go through the API while the process's peak memory
grows by a bounded amount, far below what holding the rows would take.

Measured in a process of its own (the test run's memory is no measure of one request): its
peak resident size (getrusage ru_maxrss) after a warm-up export, and again after the big
one. The peak is what an operator sizes a worker by, and unlike tracemalloc it counts
psycopg's C buffers too. Holding a million exported rows as Python objects takes more than
500 MB; the bound is a tenth of that, and what streaming needs (a 2,000-row cursor chunk and
a 500-row output piece) is a few MB.
"""

import subprocess
import sys
from contextlib import contextmanager

import pytest
from django.db import connection

from analytics.tests.live import ROOT, TcpProxy, process_env
from conftest import ADMIN_KEY
from ingest.models import Session

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 1_000_000
PEAK_GROWTH_BOUND_KB = 50 * 1024

INSERT_SQL = """
INSERT INTO ingest_event (project_id, session_id, client_id, type, path, props, occurred_at, received_at)
SELECT %(project)s, %(session)s, 'e' || i, 'page_view', '/pages/' || (i %% 100), '{"plan": "pro"}',
       '2025-03-10'::timestamptz + i * interval '50 milliseconds', '2025-03-12'::timestamptz
FROM generate_series(1, %(rows)s) AS i
"""

MEASURE = """
import os, resource, sys
import django
django.setup()
from django.test import Client

client = Client(headers={"x-admin-key": os.environ["ADMIN_API_KEY"]})

def export(url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return sum(piece.count(b"\\n") for piece in response.streaming_content)

url = sys.argv[1]
export(url.replace("2025-03-10", "2025-03-01").replace("to=2025-03-11", "to=2025-03-02"))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
lines = export(url)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(lines, before, after)
"""


@contextmanager
def database_url_for_another_process():
    """A URL of the test database for another process; the embedded Postgres listens on a
    Unix socket only, reached through a TCP proxy."""
    database = connection.settings_dict
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
    host, port = database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)
    if not host.startswith("/"):
        yield f"postgres://{credentials}@{host}:{port}/{database['NAME']}"
        return
    proxy = TcpProxy(f"{host}/.s.PGSQL.{port}").start()
    try:
        yield f"postgres://{credentials}@127.0.0.1:{proxy.port}/{database['NAME']}"
    finally:
        proxy.close()


def test_a_million_rows_export_as_csv_in_bounded_memory(tenant):
    project = tenant.project
    session = Session.objects.create(
        project=project,
        session_id="s",
        anon_id="a",
        first_seen_at="2025-03-10T00:00Z",
        last_seen_at="2025-03-12T00:00Z",
    )
    with connection.cursor() as cursor:
        cursor.execute(INSERT_SQL, {"project": project.id, "session": session.id, "rows": ROWS})
    with database_url_for_another_process() as database_url:
        env = process_env(
            DJANGO_SETTINGS_MODULE="analytics.settings",
            DATABASE_URL=database_url,
            ADMIN_API_KEY=ADMIN_KEY,
            LOG_LEVEL="WARNING",
        )
        url = f"/v1/projects/{project.id}/export?kind=events&from=2025-03-10&to=2025-03-11&format=csv"
        measured = subprocess.run(
            [sys.executable, "-c", MEASURE, url], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
        )
    assert measured.returncode == 0, measured.stderr[-3000:]
    lines, before, after = map(int, measured.stdout.split())
    assert lines == ROWS + 1  # and the header
    assert after - before < PEAK_GROWTH_BOUND_KB, f"peak grew by {(after - before) // 1024} MB"
