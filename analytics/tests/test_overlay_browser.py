"""The heatmap overlay end to end: a page on the project's origin, under a strict
Content-Security-Policy, opened with a heatmap token as the admin's link does. The SDK loads
the overlay from the live service, which draws the stored clicks over the real page.

It tests the whole service rather than one app: the SDK (ingest) loads the overlay (insights).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page

from analytics.tests.conftest import needs_chromium
from analytics.tests.test_sdk_browser import VIEWPORT, Site, serving, wait_for
from conftest import Tenant, _make_tenant
from ingest import sdk
from ingest.models import Event, MovementSample
from ingest.tests.factories import make_sample, make_session
from insights.heatmap_png import STOPS, heat_colour
from insights.overlay import issue_overlay_token, overlay_link

pytestmark = needs_chromium

NONCE = "overlay-test-nonce"
# The button's centre, in page pixels of a viewport VIEWPORT["width"] wide.
BUTTON = (260, 320)
FAR_AWAY = (1000, 600)
# One click far from the button, so the busiest cell is not the only one drawn.
STRAY = (900, 500)
CLICKS_ON_BUTTON = 5
ALPHA = 0.65  # the overlay's opacity over the page (insights/overlay/heatmap.js)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Shop</title>
<style nonce="{nonce}">
  body {{ margin: 0; height: 3000px; background: #fff; }}
  #buy {{ position: absolute; left: 200px; top: 300px; width: 120px; height: 40px; }}
</style>
<script src="{sdk_url}"></script>
<script nonce="{nonce}">analytics.init({options});</script>
</head>
<body><button id="buy">Buy</button></body>
</html>
"""


@pytest.fixture(scope="module")
def shop_site() -> Iterator[Site]:
    with serving(Site()) as served:
        yield served


@pytest.fixture
def shop(shop_site, live_server, transactional_db) -> Tenant:
    tenant = _make_tenant("shop", shop_site.origin)
    # No inline script but the nonce'd init, no style attribute, and only the service to talk to.
    shop_site.headers = {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{NONCE}' {live_server.url}; "
            f"connect-src {live_server.url}; style-src 'nonce-{NONCE}'"
        )
    }
    shop_site.html = PAGE.format(
        nonce=NONCE,
        sdk_url=f"{live_server.url}/v1/sdk.js?v={sdk.VERSION}",
        options=json.dumps({"apiKey": tenant.key, "endpoint": live_server.url, "flushInterval": 200}),
    )
    return tenant


def store_clicks(tenant: Tenant) -> None:
    """Clicks as the SDK sends them from a viewport of the test's width, an hour ago."""
    when = (timezone.now() - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    for _ in range(CLICKS_ON_BUTTON):
        make_sample(make_session(tenant.project), x=BUTTON[0], y=BUTTON[1], vw=VIEWPORT["width"], path="/", when=when)
    make_sample(make_session(tenant.project), x=STRAY[0], y=STRAY[1], vw=VIEWPORT["width"], path="/", when=when)


def pixels(blank: Page, screenshot: bytes, *points: tuple[int, int]) -> list[tuple[int, int, int]]:
    """The colours of a screenshot at `points`, decoded by the browser itself (on a blank page:
    the shop's policy refuses data: images)."""
    source = "data:image/png;base64," + base64.b64encode(screenshot).decode()
    return [
        tuple(colour)
        for colour in blank.evaluate(
            """async ([source, points]) => {
                const image = new Image();
                image.src = source;
                await image.decode();
                const canvas = new OffscreenCanvas(image.width, image.height);
                const context = canvas.getContext("2d");
                context.drawImage(image, 0, 0);
                return points.map(([x, y]) => Array.from(context.getImageData(x, y, 1, 1).data.slice(0, 3)));
            }""",
            [source, [list(point) for point in points]],
        )
    ]


def blend(colour: tuple[int, int, int], under: tuple[int, int, int]) -> tuple[float, ...]:
    return tuple(ALPHA * top + (1 - ALPHA) * bottom for top, bottom in zip(colour, under, strict=True))


def close_to(seen: tuple[int, ...], expected: tuple[float, ...], tolerance: float = 3) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(seen, expected, strict=True))


def test_the_overlay_draws_the_hottest_cell_over_the_clicked_button(browser, shop, shop_site, tmp_path):
    store_clicks(shop)
    token = issue_overlay_token(project_id=shop.project.id, path="/", now=timezone.now())
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    page.goto(overlay_link(origin=shop_site.origin, path="/", token=token, kind="click"))

    canvas = page.wait_for_selector("#analytics-heatmap-overlay[data-state]", state="attached", timeout=15_000)
    assert canvas.get_attribute("data-state") == "drawn"
    with_overlay = page.screenshot()
    (tmp_path / "overlay.png").write_bytes(with_overlay)
    page.evaluate("document.getElementById('analytics-heatmap-overlay').style.display = 'none'")
    without = page.screenshot()

    blank = context.new_page()
    on_button, far_away, stray = pixels(blank, with_overlay, BUTTON, FAR_AWAY, STRAY)
    under_button, under_far, under_stray = pixels(blank, without, BUTTON, FAR_AWAY, STRAY)
    hottest = STOPS[-1]
    assert close_to(on_button, blend(hottest, under_button)), (on_button, under_button)
    assert on_button[0] > 180 and on_button[1] < 140 and on_button[2] < 140  # red: the hot end
    assert far_away == under_far == (255, 255, 255)  # no click there: the page as it is
    assert close_to(stray, blend(heat_colour(1 / CLICKS_ON_BUTTON), under_stray)), stray
    assert not close_to(stray, on_button, tolerance=40)
    assert refused == []
    # Staff looking at the overlay are no visitors: nothing of the visit is stored.
    page.wait_for_timeout(600)
    assert not Event.objects.filter(project=shop.project).exists()
    assert MovementSample.objects.filter(project=shop.project).count() == CLICKS_ON_BUTTON + 1
    context.close()


def test_the_toolbar_switches_to_scroll_depth_and_closes(browser, shop, shop_site, tmp_path):
    store_clicks(shop)
    when = (timezone.now() - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    # Its viewport's bottom edge at 1440 px: 1440 * 1000 / 1280 = 1125 units deep.
    make_sample(make_session(shop.project), kind="scroll", x=0, y=720, vw=1280, vh=720, path="/", when=when)
    token = issue_overlay_token(project_id=shop.project.id, path="/", now=timezone.now())
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(overlay_link(origin=shop_site.origin, path="/", token=token, kind="click"))
    page.wait_for_selector("#analytics-heatmap-overlay[data-state='drawn']", state="attached", timeout=15_000)

    page.get_by_role("button", name="Scroll").click()
    page.get_by_text("Scroll depth of 1 session, last 7 days.").wait_for()
    page.screenshot(path=str(tmp_path / "scroll.png"))
    page.get_by_role("button", name="Close").click()

    assert page.query_selector("#analytics-heatmap-overlay") is None
    context.close()


def test_an_expired_link_says_so_on_the_page(browser, shop, shop_site):
    token = issue_overlay_token(project_id=shop.project.id, path="/", now=timezone.now() - timedelta(hours=2))
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(overlay_link(origin=shop_site.origin, path="/", token=token, kind="click"))

    page.wait_for_selector("#analytics-heatmap-overlay[data-state='error']", state="attached", timeout=15_000)
    page.get_by_text("The heatmap token has expired").wait_for()
    context.close()


def test_without_a_token_the_sdk_loads_no_overlay_and_records_as_usual(browser, shop, shop_site):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(shop_site.origin + "/#pricing")

    wait_for(page, lambda: Event.objects.filter(project=shop.project, type="page_view").exists(), what="a page view")
    assert any(url.endswith("/v1/ingest") for url in requested)
    assert not any("/overlay/" in url for url in requested)
    assert page.query_selector("#analytics-heatmap-overlay") is None
    context.close()
