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
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ADMIN_KEY = "live-admin-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, *, timeout: float, what: str, interval: float = 0.05) -> None:
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

    def json(self):
        return orjson.loads(self.body)


def call(port: int, method: str, path: str, body=None, *, headers=None, timeout: float = 15) -> Answer:
    """One request on a new connection (gunicorn's sync workers close after each answer).

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


def server_env(*, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Production settings (DEBUG off) for a server under test."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "DJANGO_", "GUNICORN_", "WEB_CONCURRENCY"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="analytics.settings",
        DEBUG="false",
        SECRET_KEY="live-test-secret-key-" + "s" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        ADMIN_API_KEY=ADMIN_KEY,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        RATE_LIMIT_PER_MIN="1000000",
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


def _reset(sock: socket.socket) -> None:
    """Close with an RST, as a dying peer's kernel does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    except OSError:
        pass


class TcpProxy:
    """A TCP proxy in front of Postgres that a test can cut, blackhole and restore.

    - cut(): live connections are reset and new ones refused, as when Postgres is down;
    - blackhole(): live connections are reset and new ones accepted but never answered, as
      when a host stops answering (this is what the client's connect timeout is for);
    - restore(): connections go through again.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.mode = "open"
        self._listener: socket.socket | None = None
        self._live: set[socket.socket] = set()
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
                return  # the listener was closed by cut()
            with self._lock:
                self._live.add(client)
                mode = self.mode
            if mode == "blackhole":
                continue  # held open, never answered
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._live.add(server)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                _reset(sock)
                with self._lock:
                    self._live.discard(sock)

    def _drop_live(self) -> None:
        with self._lock:
            live, self._live = self._live, set()
        for sock in live:
            _reset(sock)

    def cut(self) -> None:
        self.mode = "down"
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._drop_live()

    def blackhole(self) -> None:
        self.mode = "blackhole"
        if self._listener is None:
            self.start()
        self._drop_live()

    def restore(self) -> None:
        with self._lock:
            # In blackhole mode every live connection is one held unanswered.
            held, self._live = (self._live, set()) if self.mode == "blackhole" else (set(), self._live)
            self.mode = "open"
        for sock in held:
            _reset(sock)
        if self._listener is None:
            self.start()

    def close(self) -> None:
        self.cut()
