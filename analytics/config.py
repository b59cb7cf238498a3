"""Settings values that need more than a type cast, kept out of settings.py so they can be tested.

A `.env` written for the original Express + Prisma service must work unchanged: its
DATABASE_URL is in Prisma's form and its retention sweep interval is in milliseconds.
"""

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import environ
from django.core.exceptions import ImproperlyConfigured

# Prisma's query parameters that size or tune its own connection pool and statement cache.
# Django has neither (one connection per worker thread), so they carry no meaning here, and
# libpq would refuse them as unknown connection options.
PRISMA_POOL_PARAMETERS = frozenset(
    {
        "connection_limit",
        "pool_timeout",
        "socket_timeout",
        "statement_cache_size",
        "max_connection_lifetime",
        "max_idle_connection_lifetime",
    }
)
# A schema name that needs no quoting in libpq's `options` (which splits on spaces).
SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}\Z")

# Shorter than a minute is a unit mistake (seconds written into the milliseconds variable),
# and sweeping that often would only repeat empty deletes.
MIN_SWEEP_INTERVAL_S = 60
DEFAULT_SWEEP_INTERVAL_S = 3600


def database_from_url(url: str) -> dict[str, Any]:
    """Django's database settings from a DATABASE_URL, Prisma's form included.

    `postgresql://user:pass@host:5432/db?schema=public` is what the original service used:
    `schema` becomes the connection's search_path, `pgbouncer=true` turns off prepared
    statements (which is what it means to Prisma), and the pool parameters are dropped.
    Any other parameter goes to libpq as it is (`sslmode`, `connect_timeout`, ...).
    """
    config = environ.Env.db_url_config(url)
    # A Unix socket's folder, percent-encoded as libpq's URIs allow (postgresql://u@%2Frun%2Fpg/db).
    config["HOST"] = unquote(config["HOST"] or "")
    options = config.get("OPTIONS", {})
    for name in PRISMA_POOL_PARAMETERS & options.keys():
        del options[name]
    schema = options.pop("schema", None)
    if schema is not None:
        if not SCHEMA_NAME.match(str(schema)):
            raise ImproperlyConfigured(
                f"DATABASE_URL: schema={schema!r} is not a plain schema name (letters, digits, _ and $)."
            )
        options["options"] = f"{options.get('options', '')} -c search_path={schema}".strip()
    pgbouncer = options.pop("pgbouncer", None)
    if pgbouncer is not None and str(pgbouncer).lower() == "true":
        options["prepare_threshold"] = None
    if options:
        config["OPTIONS"] = options
    else:
        config.pop("OPTIONS", None)
    return config


def _positive_int(environ_: Mapping[str, str], name: str) -> int | None:
    raw = environ_.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value <= 0:
        raise ImproperlyConfigured(f"{name}={raw!r} must be positive; RETENTION_DAYS=0 is how to turn retention off.")
    return value


def retention_sweep_interval_s(environ_: Mapping[str, str]) -> float:
    """Seconds between two retention sweeps.

    RETENTION_SWEEP_INTERVAL_S (seconds) wins over RETENTION_SWEEP_CRON_MS (milliseconds,
    the original service's name) when both are set; both are checked either way, so a
    mistake in the one that loses still stops the start.
    """
    seconds = _positive_int(environ_, "RETENTION_SWEEP_INTERVAL_S")
    millis = _positive_int(environ_, "RETENTION_SWEEP_CRON_MS")
    if millis is not None and millis < MIN_SWEEP_INTERVAL_S * 1000:
        raise ImproperlyConfigured(
            f"RETENTION_SWEEP_CRON_MS={millis} is {millis / 1000:g} seconds; it is in milliseconds "
            f"(3600000 is an hour) and must be at least {MIN_SWEEP_INTERVAL_S * 1000}."
        )
    if seconds is not None and seconds < MIN_SWEEP_INTERVAL_S:
        raise ImproperlyConfigured(
            f"RETENTION_SWEEP_INTERVAL_S={seconds} is too often; it is in seconds and must be at least "
            f"{MIN_SWEEP_INTERVAL_S}."
        )
    if seconds is not None:
        return float(seconds)
    if millis is not None:
        return millis / 1000
    return float(DEFAULT_SWEEP_INTERVAL_S)
