"""Clients that send slowly, against the server as gunicorn.conf.py runs it: they hold sockets,
never the workers, and whatever does not arrive in time is answered 408 in the API's JSON."""

import socket
import threading
import time

import orjson
import pytest

from analytics.tests.conftest import needs_live_stack
from analytics.tests.live import call, new_batch
from ingest.models import Event

pytestmark = [pytest.mark.faults, needs_live_stack]

SLOW_CLIENTS = 64


class Tricklers:
    """Connections that each send one byte of a request every `interval` seconds: half of them
    in the headers, half in a body of the announced Content-Length."""

    def __init__(self, port: int, api_key: str, *, count: int, interval: float) -> None:
        body = orjson.dumps(new_batch(api_key, events=1, samples=0).body)
        head = (
            "POST /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.interval = interval
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        self.pending = []
        for n, sock in enumerate(self.sockets):
            if n % 2:
                self.pending.append(head)
            else:
                sock.sendall(head)
                self.pending.append(body)
        self._running = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def _trickle(self) -> None:
        offset = 0
        while self._running.is_set():
            for sock, data in zip(self.sockets, self.pending, strict=True):
                if offset < len(data) - 1:  # never the last byte: the request stays incomplete
                    sock.send(data[offset : offset + 1])
            offset += 1
            time.sleep(self.interval)

    def __enter__(self) -> "Tricklers":
        self._running.set()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._running.clear()
        self._thread.join()
        for sock in self.sockets:
            sock.close()


def test_health_and_ingest_answer_within_a_second_while_64_clients_trickle(stack):
    port = stack.server.port
    with Tricklers(port, stack.key, count=SLOW_CLIENTS, interval=2):
        time.sleep(1)
        health = [call(port, "GET", "/v1/health", timeout=5) for _ in range(10)]
        batches = [new_batch(stack.key, events=2, samples=0) for _ in range(5)]
        ingested = [
            call(port, "POST", "/v1/ingest", batch.body, headers={"Origin": "https://live.example"}, timeout=5)
            for batch in batches
        ]
    print(
        f"slow clients: {SLOW_CLIENTS} trickling; health slowest {max(a.seconds for a in health):.3f} s, "
        f"ingest slowest {max(a.seconds for a in ingested):.3f} s"
    )
    assert [answer.status for answer in health] == [200] * 10
    assert [answer.status for answer in ingested] == [202] * 5
    assert max(answer.seconds for answer in health + ingested) < 1
    assert sorted(stack.stored_event_ids()) == sorted(i for batch in batches for i in batch.event_ids)


def read_answer(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


@pytest.mark.parametrize("stack", [{"REQUEST_READ_TIMEOUT": "1"}], indirect=True)
def test_it_answers_408_json_to_a_request_that_does_not_arrive_in_time(stack):
    with socket.create_connection(("127.0.0.1", stack.server.port)) as sock:
        sock.sendall(b"POST /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
        answer = read_answer(sock)  # the server closes the connection after its answer
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"Content-Type: application/json" in head
    assert orjson.loads(body)["error"]["code"] == "request_timeout"
    assert stack.stored_event_ids() == []


def test_it_answers_a_malformed_request_line_in_json(stack):
    with socket.create_connection(("127.0.0.1", stack.server.port)) as sock:
        sock.sendall(b"NOT A REQUEST\r\n\r\n")
        head, _, body = read_answer(sock).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert orjson.loads(body)["error"]["code"] == "bad_request"


def test_it_answers_pipelined_requests_and_a_chunked_body_on_one_connection(stack):
    batch = new_batch(stack.key, events=3, samples=0)
    body = orjson.dumps(batch.body)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]) if part) + b"0\r\n\r\n"
    requests = (
        b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        b"POST /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked
    )
    with socket.create_connection(("127.0.0.1", stack.server.port)) as sock:
        sock.sendall(requests)
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.count(b"HTTP/1.1 202 ") == 1
    assert sorted(stack.stored_event_ids()) == sorted(batch.event_ids)
    assert Event.objects.filter(project=stack.project).count() == 3
