"""A pytest plugin that sets the test session's environment before the settings are read.

- The checkout's `.env` is not read: its development values (DEBUG, the example admin key)
  would reach the settings and every process a test starts. DATABASE_URL and REDIS_URL from
  the real environment still count.
- Without REDIS_URL, the session runs its own redis-server. A machine without one keeps the
  in-process cache, and the tests that need a real Redis say so when they skip.

pytest-django loads the settings before any conftest, hence a plugin (`-p` in pyproject),
whose hooks run first.
"""

from __future__ import annotations

import os
import shutil

import pytest

from analytics.tests.live import EMPTY_ENV_FILE, RedisServer

_server: RedisServer | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    global _server
    os.environ["ENV_FILE"] = str(EMPTY_ENV_FILE)
    if os.environ.get("REDIS_URL") or not shutil.which("redis-server"):
        return
    _server = RedisServer().start()
    os.environ["REDIS_URL"] = _server.url


def pytest_unconfigure(config: pytest.Config) -> None:
    if _server is not None:
        _server.stop()
