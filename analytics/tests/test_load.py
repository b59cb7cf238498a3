"""Load and verify: concurrent clients, batches retried on purpose; afterwards the database
holds exactly the acknowledged event ids, each once."""

import socket
import threading
from dataclasses import dataclass, field

import orjson
import pytest

from analytics.tests.conftest import needs_live_stack
from analytics.tests.live import Batch, abort_connection, call, new_batch
from ingest.models import MovementSample

pytestmark = [pytest.mark.faults, needs_live_stack]

CLIENTS = 8
BATCHES_PER_CLIENT = 24
EVENTS, SAMPLES = 5, 3


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: set[str] = field(default_factory=set)
    accepted_events: int = 0
    accepted_samples: int = 0
    duplicates: int = 0
    cut: int = 0
    answers: int = 0

    def record(self, batch: Batch, answer: dict) -> None:
        with self.lock:
            self.answers += 1
            self.acknowledged.update(batch.event_ids)
            self.accepted_events += answer["accepted"]["events"]
            self.accepted_samples += answer["accepted"]["movement"]
            self.duplicates += answer["duplicates"]


def send_until_acknowledged(port: int, batch: Batch, ledger: Ledger) -> dict:
    for _ in range(50):
        answer = call(port, "POST", "/v1/ingest", batch.body)
        if answer.status == 202:
            ledger.record(batch, answer.json())
            return answer.json()
    raise AssertionError(f"batch never acknowledged, last answer {answer.status}")


def send_and_cut(port: int, batch: Batch) -> None:
    """Send the whole request, then break the connection before reading the answer."""
    body = orjson.dumps(batch.body)
    head = f"POST /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head.encode() + body)
        abort_connection(sock)


def test_the_database_holds_exactly_the_acknowledged_events_under_concurrent_retries(stack):
    port, ledger = stack.server.port, Ledger()
    shared = [new_batch(stack.key, events=EVENTS, samples=SAMPLES) for _ in range(CLIENTS // 2)]
    failures: list[BaseException] = []

    def client(number: int) -> None:
        try:
            # Two clients send the same batch at the same time, as a retry racing the original does.
            send_until_acknowledged(port, shared[number // 2], ledger)
            for n in range(BATCHES_PER_CLIENT):
                batch = new_batch(stack.key, events=EVENTS, samples=SAMPLES)
                if n % 5 == 1:
                    send_and_cut(port, batch)
                    with ledger.lock:
                        ledger.cut += 1
                first = send_until_acknowledged(port, batch, ledger)
                if n % 4 == 2:  # sent again after its 202, as a retry that lost the answer would be
                    again = send_until_acknowledged(port, batch, ledger)
                    assert again["accepted"] == {"events": 0, "movement": 0}
                    assert again["duplicates"] == EVENTS
                    assert first["accepted"]["events"] + first["duplicates"] == EVENTS
        except BaseException as exc:  # a thread's failure is reported by the test itself
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures[0]

    stored = stack.stored_event_ids()
    sent_events = (len(shared) + CLIENTS * BATCHES_PER_CLIENT) * EVENTS
    assert len(stored) == len(set(stored)) == sent_events, "an event was lost or stored twice"
    assert set(stored) == ledger.acknowledged
    # Each acknowledged event was accepted once, and every other sending of it was a duplicate.
    assert ledger.accepted_events + ledger.duplicates == ledger.answers * EVENTS
    assert ledger.accepted_events <= len(stored)
    # Samples carry no id; the batchId makes every resending of a stored batch store none. A
    # batch stored by a sending whose answer was cut is acknowledged by a resending that
    # stores nothing, so fewer samples are acknowledged as stored than are.
    samples = MovementSample.objects.filter(project=stack.project).count()
    assert samples == (len(shared) + CLIENTS * BATCHES_PER_CLIENT) * SAMPLES, "samples lost or stored twice"
    assert ledger.accepted_samples <= samples
    print(
        f"load: {CLIENTS} clients, {ledger.answers} batches acknowledged ({ledger.cut} resent after a cut "
        f"connection), {len(stored)} event ids checked, 0 lost, 0 doubled; {ledger.duplicates} duplicates skipped"
    )
    stack.assert_log_holds_no_key()
