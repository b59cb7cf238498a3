"""A `.env` written for the original Express + Prisma service works unchanged.

Settings are read once per process, so each case starts its own Python with a clean
environment and only the file under test (ENV_FILE), never the checkout's `.env`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from analytics.config import database_from_url, retention_sweep_interval_s

BASE_DIR = Path(settings.BASE_DIR)

# What the process under test reports: the settings, the gunicorn bind, and the schema its
# database connection really uses.
PROBE = """
import json, logging, runpy
import django
django.setup()
from django.conf import settings
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT current_schema()")
    schema = cursor.fetchone()[0]
db = settings.DATABASES["default"]
print(json.dumps({
    "db": {k: db[k] for k in ("ENGINE", "NAME", "USER", "HOST", "PORT")},
    "db_options": db.get("OPTIONS", {}),
    "schema": schema,
    "cache": [settings.CACHES["default"]["BACKEND"], settings.CACHES["default"]["LOCATION"]],
    "broker": settings.CELERY_BROKER_URL,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "admin_api_key": settings.ADMIN_API_KEY,
    "key_cache_ttl_s": settings.KEY_CACHE_TTL_S,
    "rate_limit_per_min": settings.RATE_LIMIT_PER_MIN,
    "max_body_bytes": settings.MAX_BODY_BYTES,
    "retention_days": settings.RETENTION_DAYS,
    "sweep_interval_s": settings.RETENTION_SWEEP_INTERVAL_S,
    "sweep_schedule": settings.CELERY_BEAT_SCHEDULE["sweep-retention"]["schedule"],
    "port": settings.PORT,
    "bind": runpy.run_path("gunicorn.conf.py")["bind"],
    "log_level": logging.getLevelName(logging.getLogger().level),
}))
"""


def run_python(args: list[str], *, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "analytics.settings", **env}
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=60)


def prisma_url_of_the_test_database() -> str:
    db = settings.DATABASES["default"]
    user = quote(db["USER"] or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = quote(db["HOST"] or "127.0.0.1", safe="")
    return f"postgresql://{user}{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}?schema=public"


@pytest.mark.django_db
def test_it_runs_on_a_dotenv_of_the_original_service(tmp_path):
    # As the original's README has it: quoted Prisma URL, a Redis URL without a database
    # number, the sweep interval in milliseconds, and Node's lower-case log level.
    dotenv = tmp_path / "original.env"
    dotenv.write_text(
        "# analytics-be\n"
        f'DATABASE_URL="{prisma_url_of_the_test_database()}"\n'
        "REDIS_URL=redis://localhost:6379\n"
        "ADMIN_API_KEY=dev-admin-key-1234567890\n"
        "KEY_CACHE_TTL_S=120\n"
        "RATE_LIMIT_PER_MIN=300\n"
        "MAX_BODY_BYTES=65536\n"
        "RETENTION_DAYS=30\n"
        "RETENTION_SWEEP_CRON_MS=900000\n"
        "PORT=3012\n"
        "NODE_ENV=development\n"
        "LOG_LEVEL=info\n"
    )

    result = run_python(["-c", PROBE], env={"ENV_FILE": str(dotenv)})

    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    db = settings.DATABASES["default"]
    assert seen["db"] == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": db["NAME"],
        "USER": db["USER"] or "postgres",
        "HOST": db["HOST"] or "127.0.0.1",
        "PORT": int(db["PORT"] or 5432),
    }
    assert "schema" not in seen["db_options"]
    assert seen["db_options"]["options"] == "-c search_path=public"
    assert seen["schema"] == "public"
    assert seen["cache"] == ["django_redis.cache.RedisCache", "redis://localhost:6379"]
    assert seen["broker"] == "redis://localhost:6379"
    assert seen["eager"] is False
    assert seen["admin_api_key"] == "dev-admin-key-1234567890"
    assert seen["key_cache_ttl_s"] == 120
    assert seen["rate_limit_per_min"] == 300
    assert seen["max_body_bytes"] == 65536
    assert seen["retention_days"] == 30
    assert seen["sweep_interval_s"] == 900.0
    assert seen["sweep_schedule"] == 900.0
    assert seen["port"] == 3012
    assert seen["bind"] == "0.0.0.0:3012"
    assert seen["log_level"] == "INFO"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RETENTION_SWEEP_CRON_MS": "0 * * * *"}, "RETENTION_SWEEP_CRON_MS='0 * * * *' is not a whole number"),
        ({"RETENTION_SWEEP_CRON_MS": "3600"}, "is 3.6 seconds; it is in milliseconds"),
        ({"RETENTION_SWEEP_CRON_MS": "0"}, "RETENTION_DAYS=0 is how to turn retention off"),
        ({"RETENTION_SWEEP_INTERVAL_S": "-5"}, "must be positive"),
        ({"RETENTION_SWEEP_INTERVAL_S": "3600", "RETENTION_SWEEP_CRON_MS": "soon"}, "is not a whole number"),
        ({"DATABASE_URL": "postgresql://u@h:5432/db?schema=a;b"}, "is not a plain schema name"),
        ({"ENV_FILE": "/nonexistent/analytics.env"}, "ENV_FILE=/nonexistent/analytics.env is not a file"),
        ({"DATABASE_REPLICA_URL": "mysql://u@h/db"}, "DATABASE_REPLICA_URL must point at Postgres"),
    ],
)
def test_it_refuses_to_start_on_nonsense(tmp_path, env, message):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    start = {"ENV_FILE": str(empty), "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", **env}

    result = run_python(["manage.py", "check"], env=start)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_the_replica_url_is_read_like_the_primarys_and_mirrors_it_in_tests(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    probe = (
        "import json, django; django.setup(); from django.conf import settings; "
        "from analytics.replica import read_alias; "
        "print(json.dumps({'alias': read_alias(), 'dbs': settings.DATABASES}, default=str))"
    )
    start = {
        "ENV_FILE": str(empty),
        "DATABASE_URL": "postgresql://app@primary.internal:5432/analytics",
        "CONN_MAX_AGE": "30",
    }

    alone = json.loads(run_python(["-c", probe], env=start).stdout)
    replicated = json.loads(
        run_python(
            ["-c", probe],
            env={**start, "DATABASE_REPLICA_URL": "postgresql://reader@replica.internal:6432/analytics?schema=public"},
        ).stdout
    )

    assert alone["alias"] == "default"
    assert list(alone["dbs"]) == ["default"]
    assert replicated["alias"] == "replica"
    replica = replicated["dbs"]["replica"]
    assert (replica["USER"], replica["HOST"], replica["PORT"], replica["NAME"]) == (
        "reader",
        "replica.internal",
        6432,
        "analytics",
    )
    assert replica["OPTIONS"] == {"options": "-c search_path=public", "connect_timeout": 3, "prepare_threshold": 0}
    assert (replica["CONN_MAX_AGE"], replica["CONN_HEALTH_CHECKS"]) == (30, True)
    assert replica["TEST"]["MIRROR"] == "default"


def test_the_sweep_interval_defaults_to_an_hour():
    assert retention_sweep_interval_s({}) == 3600.0
    assert retention_sweep_interval_s({"RETENTION_SWEEP_CRON_MS": ""}) == 3600.0


def test_the_sweep_interval_in_seconds_wins_over_the_original_milliseconds():
    assert retention_sweep_interval_s({"RETENTION_SWEEP_CRON_MS": "90500"}) == 90.5
    both = {"RETENTION_SWEEP_INTERVAL_S": "600", "RETENTION_SWEEP_CRON_MS": "7200000"}
    assert retention_sweep_interval_s(both) == 600.0


def test_a_sweep_more_often_than_a_minute_is_refused():
    with pytest.raises(ImproperlyConfigured, match="at least 60"):
        retention_sweep_interval_s({"RETENTION_SWEEP_INTERVAL_S": "59"})
    with pytest.raises(ImproperlyConfigured, match="at least 60000"):
        retention_sweep_interval_s({"RETENTION_SWEEP_CRON_MS": "59999"})


def test_prisma_pool_parameters_are_dropped_and_the_rest_reach_libpq():
    config = database_from_url(
        "postgresql://app:s%40cret@db.internal:6432/analytics"
        "?schema=tenant_a&connection_limit=5&pool_timeout=10&sslmode=require&pgbouncer=true"
    )

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"]) == (
        "app",
        "s@cret",
        "db.internal",
        6432,
    )
    assert config["OPTIONS"] == {
        "options": "-c search_path=tenant_a",
        "sslmode": "require",
        # Prisma's pgbouncer mode: no prepared statements on the pooled connections.
        "prepare_threshold": None,
    }


def test_a_plain_postgres_url_is_left_as_it_was():
    config = database_from_url("postgres://postgres@127.0.0.1:5432/analytics")

    assert "OPTIONS" not in config
    assert (config["NAME"], config["HOST"], config["PORT"]) == ("analytics", "127.0.0.1", 5432)


def test_a_percent_encoded_socket_folder_is_the_host():
    config = database_from_url("postgresql://postgres@%2Fwork%2FMy%20Checkout%2F.pgdata:5432/analytics")
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("/work/My Checkout/.pgdata", 5432, "analytics")
