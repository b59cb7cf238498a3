"""Real processes for the fault tests and the fuzzing run: gunicorn serving the service, a
private Redis that can be killed, and a TCP proxy in front of Postgres that can be cut.

Nothing here mocks the failing part: a test stops a real process or drops real connections,
and only ever its own processes (the shared Postgres and Redis are never touched).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ADMIN_KEY = "live-admin-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check: Callable[[], object], *, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout} s")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return orjson.loads(self.body)


def call(
    port: int, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None, timeout: float = 15
) -> Answer:
    """One request on a new connection of its own.

    Raises OSError (or http.client.HTTPException) when the connection fails or is cut.
    """
    data = body if body is None or isinstance(body, bytes) else orjson.dumps(body)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        connection.request(method, path, body=data, headers={"Content-Type": "text/plain", **(headers or {})})
        response = connection.getresponse()
        content = response.read()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, content, time.monotonic() - started
        )
    finally:
        connection.close()


# Read by processes under test instead of the checkout's .env, whose development values
# (DEBUG, the example admin key) would otherwise fill in whatever a test leaves unset.
EMPTY_ENV_FILE = Path(__file__).with_name("empty.env")


def process_env(**settings: str) -> dict[str, str]:
    """The environment of a process under test: the test run's own, less what configures the
    service, with no .env read, plus `settings`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "DJANGO_", "GUNICORN_", "WEB_CONCURRENCY", "ENV_FILE"))
    }
    return {**env, "ENV_FILE": str(EMPTY_ENV_FILE), **settings}


def server_env(*, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Production settings (DEBUG off) for a server under test."""
    env = process_env()
    env.update(
        DJANGO_SETTINGS_MODULE="analytics.settings",
        DEBUG="false",
        SECRET_KEY="live-test-secret-key-" + "s" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        ADMIN_API_KEY=ADMIN_KEY,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        RATE_LIMIT_PER_MIN="1000000",
        UNKNOWN_KEY_RATE_LIMIT_PER_MIN="1000000",
        LOG_LEVEL="INFO",
        GUNICORN_ACCESSLOG="-",
        **extra,
    )
    return env


class Gunicorn:
    """The service under gunicorn (gunicorn.conf.py), its output in a log file."""

    def __init__(self, env: dict[str, str], *, log_path: Path, workers: int = 2) -> None:
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.workers = workers
        self.process: subprocess.Popen | None = None

    def start(self) -> Gunicorn:
        command = [
            str(BIN / "gunicorn"),
            "analytics.wsgi",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._serves, timeout=30, what="gunicorn")
        wait_until(lambda: len(self.worker_pids()) == self.workers, timeout=30, what="gunicorn workers")
        return self

    def _serves(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.process.returncode}: {self.log()[-2000:]}")
        try:
            return call(self.port, "GET", "/v1/health", timeout=2).status == 200
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except FileNotFoundError:
            return []

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def kill_worker(self, pid: int) -> None:
        if pid not in self.worker_pids():
            raise ValueError(f"{pid} is not a worker of this server")
        os.kill(pid, signal.SIGKILL)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class RedisServer:
    """A private redis-server on its own port, without persistence, that a test may kill."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, timeout=10, what="redis-server")
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *args: str) -> str:
        return subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


def abort_connection(sock: socket.socket) -> None:
    """Break a connection as a dying peer does (an RST where the kernel can): the thread
    blocked reading it wakes up; closing is left to that thread."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class TcpProxy:
    """A TCP proxy in front of Postgres that a test can cut, blackhole and restore.

    - cut(): live connections are broken and new ones refused, as when Postgres is down;
    - blackhole(): live connections are broken and new ones accepted but never answered, as
      when a host stops answering (what the client's connect timeout is for);
    - restore(): connections go through again.
    """

    def __init__(self, upstream: tuple[str, int] | str) -> None:
        """`upstream` is (host, port), or the path of a Unix socket (the embedded Postgres)."""
        self.upstream = upstream
        self.port = free_port()
        self.mode = "open"
        self._listener: socket.socket | None = None
        self._piped: set[socket.socket] = set()
        self._held: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut() shut the listener
            with self._lock:
                if self.mode == "blackhole":
                    self._held.add(client)
                    continue
            try:
                server = self._connect_upstream()
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._piped.update((client, server))
            # The last of the two pumps to finish closes both sockets, so neither is closed under the other.
            remaining = [2]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target, remaining), daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, tuple):
            return socket.create_connection(self.upstream, timeout=5)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.settimeout(5)
        try:
            server.connect(self.upstream)
        except OSError:
            server.close()
            raise
        return server

    def _pump(self, source: socket.socket, target: socket.socket, remaining: list[int]) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        abort_connection(target)
        with self._lock:
            remaining[0] -= 1
            last = remaining[0] == 0
            if last:
                self._piped.difference_update((source, target))
        if last:
            source.close()
            target.close()

    def _break_live(self) -> None:
        with self._lock:
            piped, held, self._held = list(self._piped), self._held, set()
        for sock in piped:
            abort_connection(sock)
        for sock in held:
            abort_connection(sock)
            sock.close()

    def cut(self) -> None:
        with self._lock:
            self.mode = "down"
            listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would leave it listening.
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self._break_live()

    def blackhole(self) -> None:
        with self._lock:
            self.mode = "blackhole"
        if self._listener is None:
            self.start()
        self._break_live()

    def restore(self) -> None:
        with self._lock:
            was, self.mode = self.mode, "open"
        if was == "blackhole":
            self._break_live()  # the connections held unanswered
        if self._listener is None:
            self.start()

    def close(self) -> None:
        self.cut()


@dataclass
class Sent:
    """One answer (or transport failure, status None) seen by a client."""

    at: float
    status: int | None
    seconds: float
    retry_after: str | None = None


@dataclass
class Batch:
    body: dict
    event_ids: list[str]
    acknowledged: bool = False


def new_batch(api_key: str, *, events: int, samples: int) -> Batch:
    event_ids = [str(uuid.uuid4()) for _ in range(events)]
    body = {
        "apiKey": api_key,
        "batchId": str(uuid.uuid4()),
        "session": {"sessionId": f"s-{uuid.uuid4().hex[:12]}", "anonId": f"a-{uuid.uuid4().hex[:12]}"},
        "events": [
            {"id": event_id, "type": "page_view", "path": "/", "props": {"n": i}}
            for i, event_id in enumerate(event_ids)
        ],
        "movement": [{"x": i, "y": i, "kind": "move", "path": "/"} for i in range(samples)],
    }
    return Batch(body=body, event_ids=event_ids)


class Traffic:
    """Client threads sending ingest batches with unique event ids, each batch resent (same
    body) until it is acknowledged with 202, as a browser SDK does.

    Every answer is kept with its time, so a test can look at what clients saw during a fault.
    """

    def __init__(self, port: int, api_key: str, *, clients: int = 4, events: int = 3, samples: int = 2) -> None:
        self.port = port
        self.api_key = api_key
        self.clients = clients
        self.events = events
        self.samples = samples
        self.sent: list[Sent] = []
        self.batches: list[Batch] = []
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Traffic:
        self._running.set()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def _client(self) -> None:
        while self._running.is_set():
            batch = new_batch(self.api_key, events=self.events, samples=self.samples)
            with self._lock:
                self.batches.append(batch)
            self.deliver(batch, until=lambda: not self._running.is_set())

    def deliver(
        self, batch: Batch, *, until: Callable[[], bool] = lambda: False, deadline: float | None = None
    ) -> None:
        """Send the batch until it is acknowledged, `until()` says stop, or the deadline passes."""
        while not batch.acknowledged and not until() and (deadline is None or time.monotonic() < deadline):
            started = time.monotonic()
            try:
                answer = call(self.port, "POST", "/v1/ingest", batch.body, timeout=20)
            except (OSError, http.client.HTTPException):
                self._record(Sent(started, None, time.monotonic() - started))
                time.sleep(0.05)
                continue
            self._record(Sent(started, answer.status, answer.seconds, answer.headers.get("retry-after")))
            if answer.status == 202:
                batch.acknowledged = True
            else:
                time.sleep(0.05)

    def _record(self, sent: Sent) -> None:
        with self._lock:
            self.sent.append(sent)

    def stop(self, *, settle_s: float = 30) -> None:
        """Stop sending new batches; then resend every unacknowledged batch until it is stored."""
        self._running.clear()
        for thread in self._threads:
            thread.join(timeout=30)
        deadline = time.monotonic() + settle_s
        for batch in self.batches:
            self.deliver(batch, deadline=deadline)

    def between(self, start: float, end: float) -> list[Sent]:
        with self._lock:
            return [sent for sent in self.sent if start <= sent.at < end]

    def acknowledged_ids(self) -> set[str]:
        return {event_id for batch in self.batches if batch.acknowledged for event_id in batch.event_ids}

    def unacknowledged(self) -> list[Batch]:
        return [batch for batch in self.batches if not batch.acknowledged]
