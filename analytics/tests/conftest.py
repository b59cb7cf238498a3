"""The live stack of the fault and load tests: gunicorn on the test database (reached
through a TCP proxy) and a private Redis. Also what the log handler writes, for the tests of
what reaches the log."""

from __future__ import annotations

import io
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.db import connection
from playwright.sync_api import Browser, Playwright, sync_playwright

from analytics.logs import BROWSER_KEY, RedactSecrets
from analytics.tests.live import ADMIN_KEY, Gunicorn, RedisServer, TcpProxy, server_env
from ingest.models import Event
from projects import services
from projects.models import Project

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What a person's browser says. Chromium's headless default (HeadlessChrome/...) is filtered
# as a bot, so the shared `browser` says this instead; `headless_browser` keeps the default.
DESKTOP_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
needs_chromium = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}; .ci/install-browser installs it"),
]
needs_live_stack = pytest.mark.skipif(
    not shutil.which("redis-server"), reason="runs a private Redis: needs redis-server installed"
)


@dataclass
class Stack:
    server: Gunicorn
    redis: RedisServer
    proxy: TcpProxy
    project: Project
    key: str

    def stored_event_ids(self) -> list[str]:
        return list(Event.objects.filter(project=self.project).values_list("client_id", flat=True))

    def assert_log_holds_no_key(self) -> None:
        log = self.server.log()
        for reading in (log, unquote(log), unquote(unquote(log))):  # as written, and percent-decoded
            assert not BROWSER_KEY.search(reading), "a full browser key reached the server log"
            assert ADMIN_KEY not in reading


@pytest.fixture
def stack(transactional_db, tmp_path, request) -> Iterator[Stack]:
    database = connection.settings_dict
    redis = RedisServer().start()
    host, port = database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)
    # The embedded Postgres listens on a Unix socket in its folder only.
    upstream = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
    proxy = TcpProxy(upstream).start()
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
    env = server_env(
        database_url=f"postgres://{credentials}@127.0.0.1:{proxy.port}/{database['NAME']}",
        redis_url=redis.url,
        **getattr(request, "param", {}),
    )
    server = Gunicorn(env, log_path=tmp_path / "server.log")
    project = services.create_project(name="live", origins=["https://live.example"])
    key = services.mint_key(project=project).key
    try:
        yield Stack(server=server.start(), redis=redis, proxy=proxy, project=project, key=key)
    finally:
        server.stop()
        proxy.close()
        redis.stop()


@pytest.fixture
def log_output():
    """What the configured console handler writes, formatted and redacted as in production."""
    [handler] = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecrets) for f in h.filters)]
    output = io.StringIO()
    previous = handler.setStream(output)
    yield output
    handler.setStream(previous)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    # Playwright's sync API keeps an asyncio loop on this thread, which Django then takes for an
    # async context and refuses ORM calls in; the tests' ORM calls are plain blocking code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            yield playwright
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _launch(playwright: Playwright, *extra_args: str) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[*CHROMIUM_ARGS, *extra_args],
        # Playwright turns the back/forward cache off; visitors' browsers have it on.
        ignore_default_args=["--disable-back-forward-cache"],
    )


@pytest.fixture(scope="session")
def browser(playwright_driver) -> Iterator[Browser]:
    """Headless Chromium that says it is a desktop Chrome (DESKTOP_USER_AGENT)."""
    chromium = _launch(playwright_driver, f"--user-agent={DESKTOP_USER_AGENT}")
    yield chromium
    chromium.close()


@pytest.fixture
def headless_browser(playwright_driver) -> Iterator[Browser]:
    """Headless Chromium with its own User-Agent, which names it HeadlessChrome: a bot here."""
    chromium = _launch(playwright_driver)
    yield chromium
    chromium.close()
