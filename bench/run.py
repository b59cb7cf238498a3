"""Load benchmark: the service under gunicorn on Postgres + Redis, driven over loopback.

    .venv/bin/python bench/run.py [scenario ...] [--seconds 20] [--clients 16]

Scenarios: `noop` (the stack's ceiling: a POST that parses a 6 KB JSON body through the
same middleware and server settings), `ingest` (batches of 20 events + 50 movement samples,
a new session and a batchId per batch, an allowed Origin, a browser's User-Agent and a
campaign-tagged landing URL, as the browser SDK sends them),
`experiments` (assign then convert). The load is closed-loop: each client waits for an
answer before sending again, so p99 is the latency seen under that concurrency. After
`ingest` the rows in the database are compared with what was acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ORIGIN = "https://bench.example"
# What the SDK's requests carry from a visitor's browser; the bot check and the session
# enrichment read it on every request.
BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
ADMIN_KEY = "bench-admin-key-0123456789abcdef"
EVENTS_PER_BATCH = 20
SAMPLES_PER_BATCH = 50


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0
    accepted_events: int = 0
    accepted_movement: int = 0
    duplicates: int = 0


async def request(reader, writer, method: str, path: str, body: bytes, headers: dict[str, str]):
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length, keep_alive = 0, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "connection":
            keep_alive = value.strip().lower() != "close"
    return status, await reader.readexactly(length) if length else b"", keep_alive


REFERRERS = ("https://www.google.com/", "https://news.ycombinator.com/item?id=1", "", "https://blog.example/post")


def event_id(now_ms: int) -> str:
    """An event id as the SDK makes it: the time in base 36 (8 digits until 2059), then a UUID."""
    digits = ""
    while now_ms:
        now_ms, digit = divmod(now_ms, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
    return digits + str(uuid.uuid4())


def ingest_body(key: str, counter: itertools.count) -> bytes:
    n = next(counter)
    now = int(time.time() * 1000)
    return orjson.dumps(
        {
            "apiKey": key,
            "sentAt": now,
            "batchId": str(uuid.uuid4()),
            "session": {
                "sessionId": f"bench-{os.getpid()}-{n}",
                "anonId": f"anon-{n % 5000}",
                "referrer": REFERRERS[n % len(REFERRERS)],
                "landingUrl": f"https://shop.example/products/{n % 7}?utm_source=news&utm_medium=email"
                f"&utm_campaign=spring-{n % 20}&ref={n}",
                "language": "en-GB",
                "screen": {"w": 1440, "h": 900},
            },
            "events": [
                {
                    "id": event_id(now),
                    "type": "page_view" if i % 4 == 0 else "click",
                    "path": f"/products/{i % 7}",
                    "ts": now - 1000 + i,
                    "props": {"button": f"buy-{i}", "price": 19.99},
                }
                for i in range(EVENTS_PER_BATCH)
            ],
            "movement": [
                {
                    "ts": now - 500 + i,
                    "x": 10 + i * 7,
                    "y": 300 + i,
                    "kind": "move" if i % 10 else "click",
                    "path": "/products/1",
                    "vw": 1440,
                    "vh": 900,
                }
                for i in range(SAMPLES_PER_BATCH)
            ],
        }
    )


async def client_loop(port: int, deadline: float, tally: Tally, next_request) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            method, path, body, headers, on_answer = next_request()
            started = time.perf_counter()
            try:
                status, answer, keep_alive = await request(reader, writer, method, path, body, headers)
            except (ConnectionError, asyncio.IncompleteReadError):
                tally.failures += 1
                keep_alive = False
                status = None
            if not keep_alive:  # gunicorn's sync workers close after every answer
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            if status is None:
                continue
            tally.latencies.append(time.perf_counter() - started)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if on_answer:
                on_answer(status, answer)
    finally:
        writer.close()


def scenario_requests(name: str, key: str, tally: Tally):
    counter = itertools.count()
    json_headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN, "User-Agent": BROWSER}
    if name == "noop":
        body = orjson.dumps({"apiKey": key, "pad": "x" * 6000})
        return lambda: ("POST", "/v1/noop", body, json_headers, None)
    if name == "ingest":

        def counted(status: int, answer: bytes) -> None:
            if status == 202:
                result = orjson.loads(answer)
                tally.accepted_events += result["accepted"]["events"]
                tally.accepted_movement += result["accepted"]["movement"]
                tally.duplicates += result["duplicates"]

        return lambda: ("POST", "/v1/ingest", ingest_body(key, counter), json_headers, counted)
    if name == "experiments":

        def assign_then_convert():
            n = next(counter)
            anon = f"anon-{n // 2}"
            action = "assign" if n % 2 == 0 else "convert"
            body = orjson.dumps({"apiKey": key, "anonId": anon, "goal": "signup"})
            return "POST", f"/v1/experiments/bench/{action}", body, json_headers, None

        return assign_then_convert
    raise SystemExit(f"unknown scenario {name!r}")


async def drive(port: int, name: str, key: str, seconds: float, clients: int) -> Tally:
    tally = Tally()
    next_request = scenario_requests(name, key, tally)
    deadline = time.perf_counter() + seconds
    await asyncio.gather(*(client_loop(port, deadline, tally, next_request) for _ in range(clients)))
    return tally


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_part(server: subprocess.Popen, database: str) -> dict[str, dict[int, float]]:
    """CPU used so far by each process of the web server and of Postgres serving `database`."""
    parts: dict[str, dict[int, float]] = {"web": {}, "postgres": {}}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parent = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        if int(entry.name) == server.pid or parent == server.pid:
            parts["web"][int(entry.name)] = cpu_seconds(int(entry.name))
        elif command.startswith("postgres: ") and f" {database} " in command:
            parts["postgres"][int(entry.name)] = cpu_seconds(int(entry.name))
    return parts


def cpu_per_request(before: dict, after: dict, load_cpu: float, requests: int) -> dict[str, float]:
    """CPU milliseconds a request cost each part: a figure the machine's other load barely moves."""
    used = {
        part: sum(seconds - before[part].get(pid, 0.0) for pid, seconds in after[part].items())
        for part in ("web", "postgres")
    }
    used["load generator"] = load_cpu
    return {part: round(seconds * 1000 / max(requests, 1), 2) for part, seconds in used.items()}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def django_shell(env: dict[str, str], code: str) -> str:
    return manage(env, "shell", "--verbosity", "0", "-c", code)


def prepare(env: dict[str, str], database: str, *, with_experiment: bool) -> str:
    """A fresh database with a project, its key and (if asked) an experiment; returns the key."""
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", database], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", database], check=True)
    subprocess.run(["redis-cli", "-n", env["REDIS_URL"].rsplit("/", 1)[1], "flushdb"], check=True, capture_output=True)
    manage(env, "migrate", "-v0")
    manage(env, "createproject", "bench", "--origin", ORIGIN)
    key = manage(env, "mintkey", "bench").split()[2]
    if with_experiment:
        manage(env, "createexperiment", "bench", "bench", "--variant", "control:50", "--variant", "b:50")
    return key


def stored_rows(env: dict[str, str]) -> tuple[int, int]:
    out = django_shell(
        env,
        "from ingest.models import Event, MovementSample;print(Event.objects.count(), MovementSample.objects.count())",
    )
    events, movement = out.split()
    return int(events), int(movement)


def start_server(env: dict[str, str], port: int, workers: int, threads: int, worker_class: str) -> subprocess.Popen:
    command = [
        str(Path(PYTHON).with_name("gunicorn")),
        "analytics.wsgi",
        "--config",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        *(["--worker-class", worker_class] if worker_class else []),
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            subprocess.run(["curl", "-sf", f"http://127.0.0.1:{port}/v1/health"], check=True, capture_output=True)
            return server
        except subprocess.CalledProcessError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def report(name: str, tally: Tally, seconds: float, cpu_ms: dict[str, float]) -> dict:
    done = len(tally.latencies)
    ok = sum(count for status, count in tally.statuses.items() if 200 <= status < 300)
    errors = done - ok + tally.failures
    row = {
        "scenario": name,
        "requests_per_s": round(done / seconds, 1),
        "events_per_s": round(tally.accepted_events / seconds, 1) if name == "ingest" else None,
        "p50_ms": round(statistics.median(tally.latencies) * 1000, 1) if done else None,
        "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 1) if done else None,
        "errors": errors,
        "statuses": dict(sorted(tally.statuses.items())),
        "cpu_ms_per_request": cpu_ms,
    }
    print(orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS).decode(), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", default=["noop", "ingest", "experiments"])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 4)))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--worker-class", default="", help="a gunicorn worker class to compare (default: gunicorn.conf.py's)"
    )
    parser.add_argument("--port", type=int, default=3099)
    parser.add_argument("--database", default="analytics_bench")
    parser.add_argument(
        "--warmup", type=float, default=10, help="seconds of unmeasured noop requests while the workers start"
    )
    args = parser.parse_args()

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.database}",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        "ADMIN_API_KEY": ADMIN_KEY,
        "RATE_LIMIT_PER_MIN": "100000000",
        # Production settings: DEBUG off (no query logging).
        "DEBUG": "false",
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    key = prepare(env, args.database, with_experiment="experiments" in args.scenarios)
    server = start_server(env, args.port, args.workers, args.threads, args.worker_class)
    print(
        f"# {os.cpu_count()} cores, {args.workers} {args.worker_class or 'default'} workers x {args.threads} threads, "
        f"{args.clients} clients, {args.seconds:.0f} s per scenario",
        flush=True,
    )
    rows = []
    try:
        # gunicorn answers once one worker is up: the others' start (imports, data sets) is
        # not what a scenario measures.
        asyncio.run(drive(args.port, "noop", key, args.warmup, args.clients))
        for name in args.scenarios:
            cpu_before, load_before = cpu_by_part(server, args.database), time.process_time()
            tally = asyncio.run(drive(args.port, name, key, args.seconds, args.clients))
            cpu_ms = cpu_per_request(
                cpu_before,
                cpu_by_part(server, args.database),
                time.process_time() - load_before,
                len(tally.latencies),
            )
            rows.append(report(name, tally, args.seconds, cpu_ms))
            if name == "ingest":
                events, movement = stored_rows(env)
                lost = (tally.accepted_events - events, tally.accepted_movement - movement)
                print(
                    f"# ingest check: acknowledged {tally.accepted_events} events / {tally.accepted_movement} "
                    f"samples, stored {events} / {movement}, missing {lost[0]} / {lost[1]}",
                    flush=True,
                )
                if lost != (0, 0):
                    raise SystemExit("rows lost or doubled")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    ceiling = next((row for row in rows if row["scenario"] == "noop"), None)
    ingest = next((row for row in rows if row["scenario"] == "ingest"), None)
    if ceiling and ingest:
        print(f"# ingest / ceiling = {ingest['requests_per_s'] / ceiling['requests_per_s']:.2f}")


if __name__ == "__main__":
    main()
