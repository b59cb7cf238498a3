"""The Content-Security-Policy in a real browser: Debian's Chromium opens the admin's pages
(the dashboard, heatmap and results charts included), the lockout page and Swagger UI at
/v1/docs, and nothing on them is refused by the policy or broken by it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import BrowserContext, Page

from analytics.tests.conftest import needs_chromium
from conftest import _make_tenant
from experiments import services as experiments
from ingest.tests.conftest import make_batch

VIEWPORT = {"width": 1280, "height": 900}
ORIGIN = "https://shop.example"

pytestmark = needs_chromium

# Collects what the policy refused, as the page's own script would see it.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__violations.push(`${event.violatedDirective} refused ${event.blockedURI || "inline"} (${where})`);
});
"""


class Visit:
    """A page opened in a context of its own, with everything the console and the policy said."""

    def __init__(self, context: BrowserContext, url: str, screenshot: Path) -> None:
        self.errors: list[str] = []
        self.page: Page = context.new_page()
        # A failed load is reported below with its URL; the console only says that one failed
        # (Chromium's own request for /favicon.ico, which the service does not have, included).
        self.page.on(
            "console",
            lambda message: message.type == "error"
            and not message.text.startswith("Failed to load resource")
            and self.errors.append(message.text),
        )
        # What the page loads; the page itself is checked by the test (the lockout page is a 429).
        self.page.on(
            "response",
            lambda response: response.status >= 400
            and not response.request.is_navigation_request()
            and self.errors.append(f"{response.status} {response.url}"),
        )
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        self.response = self.page.goto(url, wait_until="networkidle")
        self.screenshot = screenshot

    def refused(self) -> list[str]:
        return self.page.evaluate("window.__violations")

    def assert_clean(self) -> None:
        self.page.screenshot(path=str(self.screenshot), full_page=True)
        assert self.response.status in (200, 429), self.response.status
        assert "content-security-policy" in self.response.headers
        assert self.refused() == []
        assert self.errors == []

    def computed(self, selector: str, prop: str) -> str:
        return self.page.eval_on_selector(selector, f"(el) => getComputedStyle(el).getPropertyValue('{prop}')")


@pytest.fixture
def site(transactional_db, live_server, browser, tmp_path):
    """A project with traffic and an experiment, a staff user and a way to open pages as them."""
    tenant = _make_tenant("shop", ORIGIN)
    api = Client()
    for n in range(3):
        batch = make_batch(tenant.key, events=3, movement=20)
        for sample in batch["movement"]:
            sample["x"], sample["y"] = 100 + 37 * n, 50 + 11 * n
        assert api.post("/v1/ingest", json.dumps(batch), content_type="text/plain").status_code == 202
    experiment = experiments.create_experiment(project=tenant.project, key="hero", variants=[("a", 50), ("b", 50)])
    for n in range(20):
        body = {"apiKey": tenant.key, "anonId": f"v{n}"}
        assert api.post("/v1/experiments/hero/assign", json.dumps(body), content_type="text/plain").status_code == 200
        if n % 3 == 0:
            body["goal"] = "signup"
            api.post("/v1/experiments/hero/convert", json.dumps(body), content_type="text/plain")
    staff = User.objects.create_superuser("admin", password="the-right-password-42")
    logged_in = Client()
    logged_in.force_login(staff)
    session = logged_in.cookies["sessionid"].value
    contexts = []

    def open_page(path: str, *, as_staff: bool = True) -> Visit:
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        context.add_init_script(WATCH_VIOLATIONS)
        if as_staff:
            context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        name = path.strip("/").replace("/", "_").replace("?", "_") or "root"
        return Visit(context, live_server.url + path, tmp_path / f"{name}.png")

    yield open_page, tenant.project, experiment
    for context in contexts:
        context.close()
    print(f"screenshots in {tmp_path}")


def test_the_admins_pages_render_within_the_policy(site):
    open_page, project, experiment = site
    for path in (
        "/admin/",
        "/admin/projects/project/",
        f"/admin/projects/project/{project.id}/change/",
        "/admin/projects/apikey/",
        "/admin/ingest/event/",
        "/admin/experiments/experiment/",
        f"/admin/experiments/experiment/{experiment.pk}/change/",
    ):
        visit = open_page(path)
        visit.assert_clean()
        assert visit.page.locator("#content").count() == 1, path


def test_the_dashboard_charts_render_within_the_policy(site):
    open_page, project, _ = site
    visit = open_page(f"/admin/projects/project/{project.id}/insights/")
    visit.assert_clean()
    assert visit.computed(".insights-cards", "display") == "flex"  # the nonce'd <style> applies
    assert visit.page.locator("svg.insights-chart rect.views").count() >= 1
    assert float(visit.computed(".insights-bar", "width").removesuffix("px")) > 0  # style attributes apply


def test_the_heatmap_renders_within_the_policy(site):
    open_page, project, _ = site
    visit = open_page(f"/admin/projects/project/{project.id}/insights/heatmap/?path=/&kind=move")
    visit.assert_clean()
    assert visit.page.eval_on_selector("img.heatmap-image", "(img) => img.complete && img.naturalWidth") > 0
    assert visit.computed(".heatmap-layout", "display") == "flex"


def test_the_results_page_renders_and_its_goal_picker_works(site):
    open_page, _, experiment = site
    visit = open_page(f"/admin/experiments/experiment/{experiment.pk}/results/")
    visit.assert_clean()
    assert visit.page.locator("svg.results-chart rect.bar").count() == 2
    assert visit.computed(".results-table td.number", "text-align") == "right"
    with visit.page.expect_navigation():
        visit.page.select_option("#goal", "signup")
    assert visit.page.url.endswith("?goal=signup")
    assert visit.refused() == [] and visit.errors == []


def test_the_login_and_lockout_pages_render_within_the_policy(site, settings):
    open_page, _, _ = site
    settings.AXES_FAILURE_LIMIT = 1
    visit = open_page("/admin/login/", as_staff=False)
    visit.assert_clean()
    visit.page.fill("#id_username", "admin")
    visit.page.fill("#id_password", "wrong")
    with visit.page.expect_navigation():
        visit.page.click("input[type=submit]")
    assert "Too many failed logins" in visit.page.content()
    visit.screenshot = visit.screenshot.with_name("lockout.png")
    visit.page.screenshot(path=str(visit.screenshot))
    assert visit.refused() == [] and visit.errors == []


def test_swagger_ui_renders_within_the_policy(site):
    open_page, _, _ = site
    visit = open_page("/v1/docs", as_staff=False)
    visit.page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    visit.assert_clean()
    assert visit.page.locator(".swagger-ui .opblock").count() >= 10
    assert visit.computed("body", "margin-top") == "0px"  # the nonce'd <style> applies
