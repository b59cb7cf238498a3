"""Property-based fuzzing of the live API from its own OpenAPI schema (schemathesis).

    DATABASE_URL=postgres://.../analytics_fuzz REDIS_URL=redis://.../N .venv/bin/python fuzz/run.py

Recreates the database named in DATABASE_URL (it must be a throwaway one), migrates it,
creates a project with a browser key, spare keys and an experiment, serves the service under
gunicorn with production settings, and runs schemathesis against /v1/schema with the admin
key and, through fuzz/hooks.py, the browser key. Every check is on: no 500, every status
code, header and body within the schema. Fails on any finding, and on any traceback or full
key in the server's log.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.logs import BROWSER_KEY  # noqa: E402
from analytics.tests.live import ADMIN_KEY, BIN, Gunicorn, server_env  # noqa: E402

ORIGIN = "https://fuzz.example"


def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    admin_url = urlsplit(url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [str(BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def prepare(env: dict[str, str]) -> dict[str, object]:
    manage(env, "migrate", "--noinput", "-v0")
    project_id = re.search(r"\(([0-9a-f-]{36})\)", manage(env, "createproject", "fuzz", "--origin", ORIGIN))[1]
    keys = [BROWSER_KEY.search(manage(env, "mintkey", project_id))[0] for _ in range(4)]
    manage(env, "createexperiment", project_id, "fuzz", "--variant", "control:50", "--variant", "b:50")
    # Traffic, so that exports stream rows and hand-overs and erasures find visitors.
    manage(env, "generate_traffic", project_id, "--days", "3", "--events", "500", "--seed", "1")
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        anon_ids = [row[0] for row in connection.execute("SELECT DISTINCT anon_id FROM ingest_session LIMIT 5")]
    return {
        "projectId": project_id,
        "apiKey": keys[0],
        "spareKeys": keys[1:],
        "experimentKey": "fuzz",
        "origins": [ORIGIN],
        "anonIds": anon_ids,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=60, help="test cases per operation and phase")
    parser.add_argument("--seed", type=int, default=None, help="reproduce a run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()

    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url:
        raise SystemExit("fuzz/run.py needs DATABASE_URL (Postgres, a throwaway database) and REDIS_URL")
    env = server_env(database_url=database_url, redis_url=redis_url)
    recreate_database(database_url)
    fixtures = prepare(env)

    with tempfile.TemporaryDirectory(prefix="fuzz-") as work:
        work_dir = Path(work)
        fixtures_path = work_dir / "fixtures.json"
        fixtures_path.write_text(json.dumps(fixtures))
        server = Gunicorn(env, log_path=work_dir / "server.log", workers=args.workers).start()
        command = [
            str(BIN / "schemathesis"),
            "--config-file",
            str(ROOT / "fuzz" / "schemathesis.toml"),
            "run",
            f"http://127.0.0.1:{server.port}/v1/schema",
            "--header",
            f"x-admin-key: {ADMIN_KEY}",
            "--max-examples",
            str(args.max_examples),
            "--report",
            "junit",
            "--report-junit-path",
            str(work_dir / "junit.xml"),
        ]
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        started = time.monotonic()
        try:
            fuzzing = subprocess.run(
                command,
                cwd=ROOT,
                env={**os.environ, "SCHEMATHESIS_HOOKS": "fuzz.hooks", "FUZZ_FIXTURES": str(fixtures_path)},
            )
        finally:
            server.stop()
        log = server.log()
        requests = log.count('HTTP/1.1"')
        print(f"# fuzzing: {requests} requests served in {time.monotonic() - started:.0f} s", flush=True)
        problems = []
        if fuzzing.returncode != 0:
            problems.append(f"schemathesis found failures (exit {fuzzing.returncode})")
        if "Traceback" in log:
            problems.append("the server logged a traceback:\n" + log[log.index("Traceback") :][:3000])
        leaked = set(BROWSER_KEY.findall(log)) | ({ADMIN_KEY} if ADMIN_KEY in log else set())
        if leaked:
            problems.append(f"the server logged {len(leaked)} full key(s)")
    for problem in problems:
        print(f"# FAILED: {problem}", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
