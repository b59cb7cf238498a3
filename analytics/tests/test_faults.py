"""Faults of real processes under traffic: Redis killed, Postgres cut off or hanging, a worker
killed, the server stopped. Nothing acknowledged with 202 may be missing afterwards."""

import signal
import threading
import time
from collections import Counter

import psycopg
import pytest
from django.db import connection

from analytics.tests.conftest import needs_live_stack
from analytics.tests.live import Traffic, call, new_batch, wait_until
from experiments import services as experiments

pytestmark = [pytest.mark.faults, needs_live_stack]

CONNECT_TIMEOUT_S = 3  # analytics.settings: connect_timeout of the Postgres connection


def statuses(sent) -> Counter:
    return Counter(entry.status for entry in sent)


def assert_exactly_acknowledged(stack, traffic: Traffic, fault: str) -> None:
    """The database holds every acknowledged event id once, and no other."""
    assert traffic.unacknowledged() == []
    stored = stack.stored_event_ids()
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert set(stored) == traffic.acknowledged_ids()
    print(
        f"faults: {fault}; {len(traffic.sent)} requests {dict(statuses(traffic.sent))}; {len(stored)} event ids checked"
    )


class Assigner:
    """A client asking for its variant in a loop, keeping every status it gets."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key
        self.statuses: Counter = Counter()
        self._running = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        n = 0
        while self._running.is_set():
            n += 1
            try:
                status = call(self.port, "POST", "/v1/experiments/hero/assign", {"apiKey": self.key, "anonId": f"a{n}"})
                self.statuses[status.status] += 1
            except OSError:
                self.statuses[None] += 1

    def start(self) -> "Assigner":
        self._running.set()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        self._thread.join(timeout=30)


def test_it_keeps_answering_when_redis_dies(stack):
    experiments.create_experiment(project=stack.project, key="hero", variants=[("control", 50), ("b", 50)])
    traffic = Traffic(stack.server.port, stack.key, clients=3).start()
    assigner = Assigner(stack.server.port, stack.key).start()
    time.sleep(1)
    stack.redis.kill()
    time.sleep(2)
    deep = call(stack.server.port, "GET", "/v1/health?deep=1")
    stack.redis.start()  # same port, empty
    time.sleep(2)
    assigner.stop()
    traffic.stop()

    assert deep.status == 503
    assert deep.json()["error"]["details"]["down"] == ["cache"]
    assert set(statuses(traffic.sent)) == {202}
    assert set(assigner.statuses) == {200}
    log = stack.server.log()
    assert "redis unavailable, failing open (rateLimit" in log
    assert "redis unavailable, failing open (keyCache" in log
    # Back in use: the key cache and the limiter's counters are in the new Redis again.
    wait_until(lambda: int(stack.redis.command("dbsize")) > 0, timeout=5, what="keys in the restarted Redis")
    assert call(stack.server.port, "GET", "/v1/health?deep=1").status == 200
    assert_exactly_acknowledged(stack, traffic, "redis killed and restarted")
    stack.assert_log_holds_no_key()


def test_ingest_answers_503_at_once_while_postgres_is_down_and_loses_nothing(stack):
    traffic = Traffic(stack.server.port, stack.key, clients=3).start()
    time.sleep(1)
    cut_at = time.monotonic()
    stack.proxy.cut()
    time.sleep(2)
    deep = call(stack.server.port, "GET", "/v1/health?deep=1")
    restored_at = time.monotonic()
    stack.proxy.restore()
    time.sleep(1.5)
    traffic.stop()

    assert deep.status == 503
    assert deep.json()["error"]["details"]["down"] == ["database"]
    outage = [sent for sent in traffic.between(cut_at + 0.2, restored_at) if sent.status != 202]
    assert outage, "no request met the outage"
    assert {sent.status for sent in outage} == {503}
    assert {sent.retry_after for sent in outage} == {"5"}
    assert max(sent.seconds for sent in outage) < 1, "a refused connection must fail fast"
    assert None not in statuses(traffic.sent)
    assert_exactly_acknowledged(stack, traffic, "postgres cut off for 2 s")
    stack.assert_log_holds_no_key()


def test_ingest_answers_503_within_the_connect_timeout_while_postgres_hangs(stack):
    before = new_batch(stack.key, events=2, samples=1)
    assert call(stack.server.port, "POST", "/v1/ingest", before.body).status == 202
    stack.proxy.blackhole()
    answers: list = []
    hanging = new_batch(stack.key, events=2, samples=1)

    def ask(path: str, body=None) -> None:
        answers.append(call(stack.server.port, "POST" if body else "GET", path, body))

    askers = [
        threading.Thread(target=ask, args=("/v1/ingest", hanging.body)),
        threading.Thread(target=ask, args=("/v1/health?deep=1",)),
    ]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join(timeout=CONNECT_TIMEOUT_S + 10)
    stack.proxy.restore()

    assert sorted(answer.status for answer in answers) == [503, 503]
    # A worker serves one request at a time: when both land on the same worker, the second
    # waits for the first's timeout before meeting its own, so the bound is two timeouts.
    assert all(answer.seconds < 2 * CONNECT_TIMEOUT_S + 2 for answer in answers), [a.seconds for a in answers]
    assert min(answer.seconds for answer in answers) < CONNECT_TIMEOUT_S + 2, [a.seconds for a in answers]
    errors = {answer.json()["error"]["code"]: answer.json()["error"] for answer in answers}
    assert errors["dependency_down"]["details"]["down"] == ["database"]
    assert "database_unavailable" in errors
    # The workers are free again: the same batch goes through once the database answers.
    wait_until(
        lambda: call(stack.server.port, "POST", "/v1/ingest", hanging.body).status == 202, timeout=15, what="ingest"
    )
    assert sorted(stack.stored_event_ids()) == sorted(before.event_ids + hanging.event_ids)


def test_a_killed_worker_fails_only_the_requests_it_holds_and_loses_nothing(stack):
    traffic = Traffic(stack.server.port, stack.key, clients=4).start()
    kills = 0
    for _ in range(3):
        time.sleep(0.7)
        victim = stack.server.worker_pids()[0]
        stack.server.kill_worker(victim)
        kills += 1
        wait_until(
            lambda victim=victim: len(stack.server.worker_pids()) == stack.server.workers
            and victim not in stack.server.worker_pids(),
            timeout=15,
            what="a new worker",
        )
    time.sleep(0.7)
    traffic.stop()

    seen = statuses(traffic.sent)
    assert set(seen) <= {202, None}
    # A worker holds the request it is running and those that have arrived on its other
    # connections; each client has one request in flight, so a kill fails at most one a client.
    assert seen[None] <= kills * traffic.clients, f"{seen[None]} requests failed for {kills} killed workers"
    assert seen[202] > 20
    assert_exactly_acknowledged(stack, traffic, f"{kills} workers killed")


@pytest.mark.parametrize("stack", [{"GUNICORN_GRACEFUL_TIMEOUT": "10"}], indirect=True)
def test_sigterm_drains_in_flight_requests_and_keeps_every_acknowledged_row(stack):
    database = connection.settings_dict
    traffic = Traffic(stack.server.port, stack.key, clients=4).start()
    time.sleep(0.5)
    # Hold the event-id table so that the requests in the workers wait inside their insert.
    with psycopg.connect(
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        user=database["USER"],
        password=database["PASSWORD"] or None,
        dbname=database["NAME"],
    ) as locker:
        locker.execute("LOCK TABLE ingest_eventkey IN EXCLUSIVE MODE")
        # Client backends only: autovacuum, busy after the tests before, can queue on that lock too.
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
            "AND backend_type = 'client backend'"
        )
        # A worker runs one request at a time: each that has one waits on the lock. Which
        # workers have one depends on which took the clients' connections.
        wait_until(
            lambda: locker.execute(waiting, [database["NAME"]]).fetchone()[0] > 0,
            timeout=20,
            what="a request waiting on the lock",
        )
        time.sleep(1)
        held = locker.execute(waiting, [database["NAME"]]).fetchone()[0]
        in_flight_since = time.monotonic()
        stack.server.signal(signal.SIGTERM)
        time.sleep(1)
        assert stack.server.process.poll() is None, "the server quit with requests in flight"
        locker.rollback()  # releases the lock: the held requests finish
    exit_code = stack.server.wait(timeout=15)
    stopped_at = time.monotonic()
    traffic.stop(settle_s=0)

    drained = [
        sent
        for sent in traffic.between(0, in_flight_since)
        if sent.status == 202 and sent.at + sent.seconds > in_flight_since
    ]
    assert exit_code == 0
    assert stopped_at - in_flight_since < 10, "not drained within graceful_timeout"
    assert len(drained) >= held, "every request in flight answered 202"
    assert {sent.status for sent in traffic.sent} <= {202, None}
    stored = stack.stored_event_ids()
    assert len(stored) == len(set(stored))
    assert traffic.acknowledged_ids() <= set(stored), "an acknowledged event is missing"
    # What was never acknowledged is only what the stopped server did not take in.
    assert set(stored) - traffic.acknowledged_ids() == set()
