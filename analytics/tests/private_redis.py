"""A pytest plugin: without REDIS_URL, the test session runs its own redis-server.

The settings read REDIS_URL once, when pytest-django loads them before any conftest, so the
server has to be up (and the variable set) earlier still: hence a plugin (`-p` in pyproject),
whose hooks run first. A machine without redis-server keeps the in-process cache, and the
tests that need a real Redis say so when they skip.
"""

from __future__ import annotations

import os
import shutil

import pytest

from analytics.tests.live import RedisServer

_server: RedisServer | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    global _server
    if os.environ.get("REDIS_URL") or not shutil.which("redis-server"):
        return
    _server = RedisServer().start()
    os.environ["REDIS_URL"] = _server.url


def pytest_unconfigure(config: pytest.Config) -> None:
    if _server is not None:
        _server.stop()
