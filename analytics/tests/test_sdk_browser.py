"""The browser SDK end to end: a real headless Chromium, a page on a second origin, the live service.

The test site is a small HTTP server on another port of 127.0.0.1; its page loads the SDK from
the live server (http://localhost:<port>), so every request the SDK makes is a real cross-origin
one, checked against the project's origins. What the SDK did is proven by what the service
stored. Faults are real too: the service fails because a table it writes to is gone.

It tests the whole service rather than one app: the one SDK drives both products, ingest
and experiments, which must not import each other.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model
from playwright.sync_api import Browser, Page

from analytics.tests.conftest import needs_chromium
from conftest import Tenant, _make_tenant
from experiments.models import Assignment, Conversion, Experiment
from experiments.services import create_experiment
from ingest import sdk
from ingest.models import Event, MovementSample, Session
from projects.models import FilteredBotHour

VIEWPORT = {"width": 1280, "height": 720}
BEACON_LIMIT = 64 * 1024

pytestmark = needs_chromium

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Shop</title>
<script src="{sdk_url}"></script>
<script>analytics.init({options});</script>
</head>
<body style="margin: 0; height: 5000px">
<nav><a href="/pricing" data-route>Pricing</a> <a href="/docs" data-route>Docs</a></nav>
<button id="buy" style="position: absolute; left: 200px; top: 300px; width: 120px; height: 40px">Buy</button>
<script>
  // A router in miniature: links change the URL with pushState, then the title, as SPAs do.
  document.addEventListener("click", (event) => {{
    const link = event.target.closest("a[data-route]");
    if (!link) return;
    event.preventDefault();
    history.pushState({{}}, "", link.getAttribute("href"));
    document.title = link.textContent;
  }});
</script>
</body>
</html>
"""


class Site:
    """A web site on its own origin, every path of which is the test page (like an SPA host)."""

    def __init__(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.html.encode() if self.path != "/favicon.ico" else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in site.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.html = ""
        self.headers: dict[str, str] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve(self, *, sdk_url: str, options: dict[str, Any]) -> None:
        self.html = PAGE.format(sdk_url=sdk_url, options=json.dumps(options))


@contextmanager
def serving(site: Site) -> Iterator[Site]:
    """The site served from a thread until the block ends."""
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    with serving(Site()) as served:
        yield served


@pytest.fixture
def shop(site, transactional_db) -> Tenant:
    """The project of the test site: its origin is allowed."""
    return _make_tenant("shop", site.origin)


@pytest.fixture
def open_page(browser, site, live_server, shop) -> Iterator[Callable[..., Page]]:
    """Opens the test page in a fresh browser profile with the SDK set up by `options`."""
    contexts = []

    def open_page(
        path: str = "/",
        *,
        api_key: str | None = None,
        init_script: str = "",
        chromium: Browser | None = None,
        **options,
    ) -> Page:
        site.serve(
            sdk_url=f"{live_server.url}/v1/sdk.js?v={sdk.VERSION}",
            options={
                key: value
                for key, value in {
                    "apiKey": api_key or shop.key,
                    "endpoint": live_server.url,
                    "flushInterval": 200,
                    "moveInterval": 50,
                    "retryBase": 200,
                    **options,
                }.items()
                if value is not None  # None: leave the SDK's default
            },
        )
        context = (chromium or browser).new_context(viewport=VIEWPORT)
        contexts.append(context)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        page.goto(site.origin + path)
        return page

    yield open_page
    for context in contexts:
        context.close()
    _wait_for_the_last_beacons()


def _wait_for_the_last_beacons(*, quiet: float = 0.3, timeout: float = 5.0) -> None:
    """Closing a page sends its last batch as a beacon. On Postgres, the flush of the test
    database after the test (TRUNCATE of every table) can deadlock with that batch's ingest
    statement, so the flush waits until no other connection has run a statement for a while."""
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - quiet_since < quiet:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state = 'active'"
            )
            if cursor.fetchone()[0]:
                quiet_since = time.monotonic()
        time.sleep(0.05)


def wait_for(page: Page, check: Callable[[], Any], *, timeout: float = 15.0, what: str = "") -> Any:
    """Polls `check` until it is truthy; the page's own work goes on meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        page.wait_for_timeout(100)


def ids(page: Page) -> dict[str, str]:
    return page.evaluate("analytics.ids()")


def events(tenant: Tenant, type_: str | None = None) -> list[Event]:
    rows = Event.objects.filter(project=tenant.project).order_by("occurred_at", "id")
    return list(rows.filter(type=type_) if type_ else rows)


def ingest_requests(page: Page) -> list[dict[str, Any]]:
    """Every ingest request the page makes, with its body and, once it came, its status."""
    seen: list[dict[str, Any]] = []

    def on_request(request) -> None:
        if request.url.endswith("/v1/ingest"):
            seen.append({"request": request, "body": request.post_data or "", "status": None})

    def on_response(response) -> None:
        for item in seen:
            if item["request"] is response.request:
                item["status"] = response.status

    page.on("request", on_request)
    page.on("response", on_response)
    return seen


def statuses_on_the_wire(page: Page) -> Callable[[], list[int]]:
    """What /v1/ingest answered the page, as the network saw it, CORS-hidden answers included.

    Playwright reports no response for a request that CORS blocked, so this listens to the
    DevTools protocol instead. Returns a function giving the statuses seen so far.
    """
    cdp = page.context.new_cdp_session(page)
    urls: dict[str, str] = {}
    answers: list[tuple[str, int]] = []
    cdp.on("Network.requestWillBeSent", lambda event: urls.update({event["requestId"]: event["request"]["url"]}))
    cdp.on("Network.responseReceivedExtraInfo", lambda event: answers.append((event["requestId"], event["statusCode"])))
    cdp.send("Network.enable")
    return lambda: [status for request_id, status in answers if urls.get(request_id, "").endswith("/v1/ingest")]


def carrying(text: str) -> Callable[[Any], bool]:
    """Matches the answer to an ingest request whose body has `text` (not an earlier batch's)."""
    return lambda response: response.url.endswith("/v1/ingest") and text in (response.request.post_data or "")


@contextmanager
def table_away(model: type[Model]) -> Iterator[None]:
    """The model's table renamed: the service's writes to it fail as on a broken database."""
    table = model._meta.db_table
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {quote(table)} RENAME TO {quote(table + '_away')}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {quote(table + '_away')} RENAME TO {quote(table)}")


# Page views


def test_headless_chromium_as_it_comes_is_answered_but_stores_nothing(open_page, shop, headless_browser):
    page = open_page("/", chromium=headless_browser)
    with page.expect_response(carrying("bot_check")) as answer:
        page.evaluate("analytics.track('bot_check')")
    assert "HeadlessChrome" in page.evaluate("navigator.userAgent")
    assert answer.value.status == 202
    assert answer.value.json()["filtered"] == "bot"
    assert wait_for(page, lambda: FilteredBotHour.objects.filter(project=shop.project).exists())
    assert (Session.objects.count(), Event.objects.count(), MovementSample.objects.count()) == (0, 0, 0)


def test_it_sends_a_page_view_on_load(open_page, shop):
    page = open_page("/")

    [view] = wait_for(page, lambda: events(shop, "page_view"), what="the page view")
    session = Session.objects.get(project=shop.project)
    assert view.path == "/"
    assert view.props == {"title": "Shop"}
    assert page.evaluate("analytics.version") == sdk.VERSION
    assert view.session_id == session.pk
    assert session.session_id == ids(page)["sessionId"]
    assert session.anon_id == ids(page)["anonId"]
    assert session.language == "en-US"
    assert (session.screen_width, session.screen_height) == (1280, 720)


def test_it_sends_the_landing_url_whose_campaign_tags_the_session(open_page, shop):
    page = open_page("/?utm_source=Spring%20Mail&utm_medium=email&utm_campaign=launch&token=secret")
    wait_for(page, lambda: events(shop, "page_view"), what="the page view")
    page.click("text=Pricing")  # later batches carry the same landing URL; the first one counts anyway
    wait_for(page, lambda: len(events(shop, "page_view")) == 2)

    session = Session.objects.get(project=shop.project)
    assert (session.utm_source, session.utm_medium, session.utm_campaign) == ("Spring Mail", "email", "launch")
    assert (session.source, session.channel) == ("Spring Mail", "Email")
    assert session.device == "desktop" and session.browser is not None
    assert all("secret" not in str(value) for value in Session.objects.values().get().values())


def test_it_sends_a_page_view_on_each_single_page_app_navigation(open_page, shop):
    page = open_page("/")
    wait_for(page, lambda: events(shop, "page_view"))

    page.click("text=Pricing")  # pushState
    wait_for(page, lambda: len(events(shop, "page_view")) == 2)
    page.evaluate("history.replaceState({step: 2}, '', location.pathname)")  # same path: no page view
    page.go_back()  # popstate
    wait_for(page, lambda: len(events(shop, "page_view")) == 3)
    page.evaluate("history.replaceState({}, '', '/docs')")

    views = wait_for(page, lambda: len(events(shop, "page_view")) == 4 and events(shop, "page_view"))
    assert [view.path for view in views] == ["/", "/pricing", "/", "/docs"]
    assert views[1].props == {"title": "Pricing"}
    assert len({view.session_id for view in views}) == 1


def test_it_counts_a_page_view_when_the_back_button_restores_a_cached_page(open_page, shop, site):
    page = open_page("/")
    wait_for(page, lambda: events(shop, "page_view"))
    page.evaluate("window.stillHere = true")  # survives a back/forward cache restore, not a reload
    page.goto(site.origin + "/next")
    wait_for(page, lambda: len(events(shop, "page_view")) == 2)

    page.go_back(wait_until="commit")  # a restored page fires no load event

    views = wait_for(page, lambda: len(events(shop, "page_view")) == 3 and events(shop, "page_view"))
    assert page.evaluate("window.stillHere") is True
    assert [view.path for view in views] == ["/", "/next", "/"]


def test_it_finds_the_service_from_its_script_url_when_no_endpoint_is_given(open_page, shop):
    page = open_page("/", endpoint=None)

    assert wait_for(page, lambda: events(shop, "page_view"))


# Custom events and movement


def test_it_sends_custom_events_with_their_props(open_page, shop):
    page = open_page("/pricing")

    page.evaluate("analytics.track('signup', {plan: 'pro', seats: 3, tags: ['a']})")

    [signup] = wait_for(page, lambda: events(shop, "signup"))
    assert signup.path == "/pricing"
    assert signup.props == {"plan": "pro", "seats": 3, "tags": ["a"]}
    # The id begins with the event's time in base 36 (so that a batch's ids sit together in
    # the index of ids), then a UUID.
    sent_at_ms, random_part = int(signup.client_id[:-36], 36), signup.client_id[-36:]
    assert abs(sent_at_ms - time.time() * 1000) < 60_000
    assert str(uuid.UUID(random_part)) == random_part


def test_it_gives_every_event_its_own_client_id(open_page, shop):
    page = open_page("/")

    page.evaluate("for (let i = 0; i < 5; i++) analytics.track('tick', {i})")

    ticks = wait_for(page, lambda: len(events(shop, "tick")) == 5 and events(shop, "tick"))
    assert len({tick.client_id for tick in ticks}) == 5


def test_it_samples_pointer_moves_clicks_and_scroll_depth(open_page, shop):
    page = open_page("/")

    page.mouse.move(40, 50)
    page.wait_for_timeout(120)
    page.mouse.move(90, 110)
    page.mouse.click(260, 320)  # the middle of the Buy button
    page.mouse.wheel(0, 1000)

    def samples() -> dict[str, list[MovementSample]]:
        rows = MovementSample.objects.filter(project=shop.project).order_by("occurred_at", "id")
        by_kind: dict[str, list[MovementSample]] = {}
        for row in rows:
            by_kind.setdefault(row.kind, []).append(row)
        return by_kind if {"move", "click", "scroll"} <= set(by_kind) else {}

    by_kind = wait_for(page, samples, what="move, click and scroll samples")
    assert (by_kind["move"][0].x, by_kind["move"][0].y) == (40, 50)
    [click] = by_kind["click"]
    assert (click.x, click.y) == (260, 320)
    assert by_kind["scroll"][-1].y == page.evaluate("scrollY") + 720
    for row in (*by_kind["move"], click, *by_kind["scroll"]):
        assert (row.path, row.viewport_width, row.viewport_height) == ("/", 1280, 720)


# Delivery


def test_it_flushes_on_page_hide_when_the_visitor_leaves(open_page, shop):
    # The SDK sends this by sendBeacon. DevTools reports no request made by a page that is
    # unloading, so the stored rows are the proof that it left, and only on the way out.
    page = open_page("/", flushInterval=3_600_000)
    page.evaluate("analytics.track('add_to_cart', {sku: 'A1'})")
    page.mouse.click(260, 320)
    page.wait_for_timeout(500)
    assert events(shop) == []

    page.goto("about:blank")  # leaving: pagehide, and the tab's document is hidden

    stored = wait_for(page, lambda: len(events(shop)) == 2 and events(shop))
    assert [event.type for event in stored] == ["page_view", "add_to_cart"]
    assert MovementSample.objects.filter(project=shop.project, kind="click").count() == 1


def test_it_retries_a_batch_the_service_failed_with_503_and_stores_it_once(open_page, shop):
    page = open_page("/")
    wait_for(page, lambda: events(shop, "page_view"))
    sent = ingest_requests(page)

    with table_away(Event), page.expect_response(carrying("purchase")) as failed:
        page.evaluate("analytics.track('purchase', {total: 42})")
    assert failed.value.status == 503

    [purchase] = wait_for(page, lambda: events(shop, "purchase"), what="the retried purchase")
    assert purchase.props == {"total": 42}
    page.evaluate("analytics.track('after'); analytics.flush()")
    wait_for(page, lambda: events(shop, "after"))
    with_purchase = [item for item in sent if purchase.client_id in item["body"]]
    assert [item["status"] for item in with_purchase] == [503, 202]  # once failed, once acknowledged
    assert len({json.loads(item["body"])["batchId"] for item in with_purchase}) == 1  # the same batch
    assert len(events(shop, "purchase")) == 1


def test_it_waits_at_least_the_retry_after_the_service_asks_for(open_page, shop):
    page = open_page("/")
    wait_for(page, lambda: events(shop, "page_view"))
    sent = ingest_requests(page)

    with table_away(Event), page.expect_response(carrying("slow")) as failed:
        page.evaluate("analytics.track('slow')")
    refused_at = time.monotonic()
    retry_after = int(failed.value.header_value("retry-after"))

    wait_for(page, lambda: events(shop, "slow"))
    assert time.monotonic() - refused_at >= retry_after - 0.5  # not after retryBase (200 ms)
    wait_for(page, lambda: [item["status"] for item in sent if "slow" in item["body"]] == [503, 202])


def test_it_keeps_a_failed_batch_across_a_reload_and_sends_it_from_the_next_page(open_page, shop):
    page = open_page("/")
    wait_for(page, lambda: events(shop, "page_view"))

    with table_away(Event):
        with page.expect_response(carrying("wishlist")) as failed:
            page.evaluate("analytics.track('wishlist')")
        assert failed.value.status == 503
        page.reload()  # the next page of the site, while the service is still failing

    wait_for(page, lambda: events(shop, "wishlist"), what="the queued event, sent by the next page")
    wait_for(page, lambda: len(events(shop, "page_view")) == 2)
    assert len(events(shop, "wishlist")) == 1


def test_it_splits_batches_to_stay_under_the_beacon_limit(open_page, shop):
    page = open_page("/", flushInterval=3_600_000)
    sent = ingest_requests(page)

    page.evaluate(  # 20 events of 7 KB (the service takes props up to 8 KB): 140 KB in all
        "for (let i = 0; i < 20; i++) analytics.track('big', {i, blob: 'x'.repeat(7000)});analytics.flush()"
    )

    big = wait_for(page, lambda: len(events(shop, "big")) == 20 and events(shop, "big"))
    assert sorted(event.props["i"] for event in big) == list(range(20))
    assert len(sent) >= 3
    assert all(len(item["body"].encode()) < BEACON_LIMIT for item in sent)


def test_it_sends_text_plain_so_the_browser_needs_no_preflight(open_page, shop):
    page = open_page("/", flushInterval=3_600_000)
    methods: list[str] = []
    page.on("request", lambda request: "/v1/" in request.url and methods.append(request.method))
    with page.expect_request(lambda r: r.url.endswith("/v1/ingest")) as posted:
        page.evaluate("analytics.flush()")

    wait_for(page, lambda: events(shop, "page_view"))
    assert posted.value.headers["content-type"].startswith("text/plain")
    assert "OPTIONS" not in methods


def test_it_refuses_to_store_anything_from_an_origin_the_project_does_not_list(open_page):
    elsewhere = _make_tenant("elsewhere", "https://elsewhere.example")

    page = open_page("/", api_key=elsewhere.key, flushInterval=3_600_000)
    statuses = statuses_on_the_wire(page)

    page.evaluate("analytics.track('sneaky'); analytics.flush()")

    wait_for(page, statuses, what="the service's answer")
    page.wait_for_timeout(300)
    assert set(statuses()) == {403}
    assert not Event.objects.filter(project=elsewhere.project).exists()
    assert not Session.objects.filter(project=elsewhere.project).exists()
    assert not MovementSample.objects.filter(project=elsewhere.project).exists()


# Identity, sessions and consent


def test_it_keeps_the_anon_id_across_reloads(open_page, shop):
    page = open_page("/")
    first = ids(page)["anonId"]

    page.reload()

    assert ids(page)["anonId"] == first
    wait_for(page, lambda: len(events(shop, "page_view")) == 2)
    assert set(Session.objects.filter(project=shop.project).values_list("anon_id", flat=True)) == {first}


def test_it_keeps_nothing_on_the_device_with_memory_persistence(open_page, shop):
    page = open_page("/", persistence="memory")
    first = ids(page)["anonId"]

    page.reload()

    assert ids(page)["anonId"] != first
    assert page.evaluate("Object.keys(localStorage)") == []
    wait_for(page, lambda: Session.objects.filter(project=shop.project).count() == 2)


def test_it_starts_a_new_session_after_the_idle_timeout(open_page, shop):
    page = open_page("/", sessionTimeout=1000)
    wait_for(page, lambda: events(shop, "page_view"))
    first = ids(page)["sessionId"]

    page.wait_for_timeout(1300)
    page.evaluate("analytics.track('back_again')")

    [back] = wait_for(page, lambda: events(shop, "back_again"))
    sessions = Session.objects.filter(project=shop.project)
    assert sessions.count() == 2
    assert back.session_id == sessions.get(session_id=ids(page)["sessionId"]).pk
    assert ids(page)["sessionId"] != first
    assert len({session.anon_id for session in sessions}) == 1


def test_it_sends_nothing_after_opt_out_until_opt_in(open_page, shop):
    page = open_page("/")
    wait_for(page, lambda: events(shop, "page_view"))

    page.evaluate("analytics.optOut(); analytics.track('while_out')")
    page.mouse.click(260, 320)
    page.reload()  # the opt-out is remembered
    page.evaluate("analytics.track('still_out')")
    page.evaluate("analytics.optIn(); analytics.track('back_in')")

    wait_for(page, lambda: events(shop, "back_in"))
    assert [event.type for event in events(shop)] == ["page_view", "page_view", "back_in"]
    assert not MovementSample.objects.filter(project=shop.project, kind="click").exists()


def test_it_honours_do_not_track_when_asked(open_page, shop):
    dnt = "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'});"
    page = open_page("/private", respectDnt=True, init_script=dnt)
    page.evaluate("analytics.track('tracked_anyway'); analytics.flush()")
    assert page.evaluate("Object.keys(localStorage)") == []

    other = open_page("/public", init_script=dnt)  # DNT on, but this site did not ask to respect it

    [view] = wait_for(other, lambda: events(shop))
    assert view.path == "/public"
    page.wait_for_timeout(300)
    assert [event.path for event in events(shop)] == ["/public"]


# Experiments


@pytest.fixture
def hero(shop) -> Experiment:
    return create_experiment(project=shop.project, key="hero", variants=[("control", 50), ("bold", 50)])


def test_it_assigns_a_variant_that_stays_the_same_across_reloads(open_page, shop, hero):
    page = open_page("/")

    first = page.evaluate("analytics.assign('hero')")
    page.reload()
    again = page.evaluate("analytics.assign('hero')")

    assert first in {"control", "bold"}
    assert again == first
    [assignment] = Assignment.objects.filter(experiment=hero)
    assert assignment.anon_id == ids(page)["anonId"]
    assert assignment.variant.key == first


def test_it_asks_the_service_once_per_experiment(open_page, shop, hero):
    page = open_page("/")
    asked: list[str] = []
    page.on("request", lambda request: "/assign" in request.url and asked.append(request.url))

    variants = page.evaluate("Promise.all([analytics.assign('hero'), analytics.assign('hero')])")
    page.evaluate("analytics.assign('hero')")

    assert variants[0] == variants[1]
    assert len(asked) == 1


def test_it_records_a_conversion_once(open_page, shop, hero):
    page = open_page("/")
    page.evaluate("analytics.assign('hero')")

    first = page.evaluate("analytics.convert('hero', 'purchase')")
    second = page.evaluate("analytics.convert('hero', 'purchase')")
    page.reload()
    third = page.evaluate("analytics.convert('hero', 'purchase')")

    assert first == {"recorded": True}
    assert second == third == {"recorded": False, "reason": "duplicate"}
    [conversion] = Conversion.objects.filter(experiment=hero)
    assert (conversion.anon_id, conversion.goal) == (ids(page)["anonId"], "purchase")


def test_it_resolves_no_variant_for_an_unknown_experiment(open_page, shop):
    page = open_page("/")

    assert page.evaluate("analytics.assign('no-such-test')") is None
