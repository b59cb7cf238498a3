"""The admin's traffic dashboard and heatmap pages: who may see them, and that they show data."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from ingest.tests.factories import at, make_event, make_sample, make_session
from insights import selectors
from insights.charts import series_chart
from insights.heatmap_png import STOPS
from insights.selectors import Bucket
from insights.time_ranges import Interval

pytestmark = pytest.mark.django_db


def dashboard_url(project) -> str:
    return f"/admin/projects/project/{project.id}/insights/"


def heatmap_url(project) -> str:
    return f"/admin/projects/project/{project.id}/insights/heatmap/"


def image_url(project) -> str:
    return f"/admin/projects/project/{project.id}/insights/heatmap.png"


def text(response) -> str:
    """The page's text without tags and with whitespace collapsed, for reading numbers."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def recent_traffic(tenant, other_tenant):
    """Today (UTC): a session with two page views and a click, a bouncing one, and a stranger."""
    now = timezone.now().replace(tzinfo=None)
    # Five minutes back, unless that is yesterday: everything must fall on today.
    earlier = max(now - timedelta(minutes=5), now.replace(hour=0, minute=0, second=0)).isoformat()
    reader = make_session(tenant.project, anon_id="A", referrer="https://www.google.com/", language="fr-FR")
    make_event(reader, earlier, path="/pricing")
    make_event(reader, now.isoformat(), path="/docs")
    make_sample(reader, x=500, y=300, path="/pricing", when=earlier)
    make_sample(reader, x=0, y=400, kind="scroll", path="/pricing", when=earlier)
    bouncer = make_session(tenant.project, anon_id="B", screen_width=390, screen_height=844)
    make_event(bouncer, earlier, path="/pricing")
    stranger = make_session(other_tenant.project, referrer="https://leak.example/")
    for _ in range(5):
        make_event(stranger, earlier, path="/secret-page")
    return tenant


@pytest.mark.parametrize("url", [dashboard_url, heatmap_url, image_url])
def test_anonymous_visitors_are_sent_to_the_login_page(client, tenant, url):
    response = client.get(url(tenant.project) + "?path=/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_logged_in_non_staff_user_is_sent_to_the_login_page(client, tenant):
    user = User.objects.create_user("reader", password="a-long-password-1")
    client.force_login(user)
    response = client.get(dashboard_url(tenant.project))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_view_permission_are_refused(client, tenant):
    user = User.objects.create_user("staff", password="a-long-password-1", is_staff=True)
    client.force_login(user)
    assert client.get(dashboard_url(tenant.project)).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_project"))
    client.force_login(User.objects.get(pk=user.pk))
    assert client.get(dashboard_url(tenant.project)).status_code == 200


def test_projects_link_to_their_dashboard(admin_client, tenant):
    link = f'href="{dashboard_url(tenant.project)}"'
    assert link in admin_client.get("/admin/projects/project/").content.decode()
    assert link in admin_client.get(f"/admin/projects/project/{tenant.project.id}/change/").content.decode()


def test_the_dashboard_shows_the_numbers_of_this_project_only(admin_client, recent_traffic):
    response = admin_client.get(dashboard_url(recent_traffic.project) + "?range=today")
    assert response.status_code == 200
    page = text(response)
    assert "3 Page views" in page
    assert "2 Sessions" in page
    assert "2 Unique visitors" in page
    assert "1.50 Events per session" in page
    assert "50 % Bounce rate" in page
    assert "/pricing 2" in page and "/docs 1" in page
    assert "https://www.google.com/ 1" in page and "(direct or none) 1" in page
    assert "fr-FR 1" in page and "390x844 1" in page
    assert "secret-page" not in page and "leak.example" not in page
    # Today is charted per hour: 24 bars, one of them drawn with today's page views.
    assert response.content.decode().count('<rect class="views"') == 24
    assert response.context["stats"].totals.page_views == 3


def test_the_dashboard_links_each_top_path_to_its_heatmaps(admin_client, recent_traffic):
    page = admin_client.get(dashboard_url(recent_traffic.project) + "?range=30d").content.decode()
    assert f"{heatmap_url(recent_traffic.project)}?range=30d&amp;path=%2Fpricing&amp;kind=click" in page
    assert f"{heatmap_url(recent_traffic.project)}?range=30d&amp;path=%2Fpricing&amp;kind=move" in page


def test_a_custom_range_and_interval_are_applied(admin_client, recent_traffic):
    response = admin_client.get(
        dashboard_url(recent_traffic.project),
        {"range": "custom", "from": "2025-03-01", "to": "2025-03-03", "interval": "day"},
    )
    assert response.status_code == 200
    stats = response.context["stats"]
    assert stats.totals.page_views == 0
    assert len(stats.series) == 3
    assert 'value="2025-03-01"' in response.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"range": "custom", "from": "2025-03-05", "to": "2025-03-01"}, "`from` must be before `to`"),
        ({"range": "custom", "from": "someday"}, "is not an ISO 8601 date"),
        ({"range": "30d", "interval": "minute"}, "is not one of: hour, day"),
        (
            {"range": "custom", "from": "2025-01-01", "to": "2025-03-01", "interval": "hour"},
            "at most 31 days",
        ),
    ],
)
def test_a_bad_choice_shows_an_error_and_the_default_range(admin_client, recent_traffic, query, message):
    response = admin_client.get(dashboard_url(recent_traffic.project), query)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert len(response.context["stats"].series) == 7
    assert response.context["stats"].totals.page_views == 3


def test_unknown_projects_are_404_pages(admin_client, db):
    assert admin_client.get("/admin/projects/project/00000000-0000-0000-0000-000000000000/insights/").status_code == 404
    assert admin_client.get("/admin/projects/project/nope/insights/").status_code == 404


def test_the_heatmap_page_shows_the_image_and_scroll_depth(admin_client, recent_traffic):
    response = admin_client.get(heatmap_url(recent_traffic.project), {"path": "/pricing", "kind": "click"})
    assert response.status_code == 200
    page = response.content.decode()
    assert f'src="{image_url(recent_traffic.project)}?range=7d&amp;path=%2Fpricing&amp;kind=click"' in page
    assert "Clicks on /pricing: 1" in text(response)
    # One session scrolled: depth (400 + 800) * 1000 / 1000 = 1200 reaches the 1000 step, not 1250.
    assert [(step.depth, step.sessions) for step in response.context["depth"].steps][-2:] == [
        (1000, 1),
        (1250, 0),
    ]
    assert '<option value="/docs">' in page


def test_the_heatmap_image_is_a_png(admin_client, recent_traffic):
    response = admin_client.get(image_url(recent_traffic.project), {"path": "/pricing", "kind": "move"})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


def test_the_heatmap_page_needs_a_path_and_a_known_kind(admin_client, tenant):
    assert admin_client.get(heatmap_url(tenant.project)).status_code == 404
    assert admin_client.get(heatmap_url(tenant.project), {"path": "/", "kind": "hover"}).status_code == 404


def test_the_chart_scales_bars_and_ticks_to_the_busiest_bucket():
    series = [
        Bucket(start=at(f"2025-03-{day:02d} 00:00"), page_views=views, sessions=sessions)
        for day, views, sessions in [(10, 0, 0), (11, 22, 5), (12, 11, 3)]
    ]
    chart = series_chart(series, Interval.DAY, time_zone="UTC")
    assert [tick.label for tick in chart.y_ticks] == ["0", "10", "20", "30", "40"]
    plot_height = chart.plot_bottom - chart.y_ticks[-1].position
    assert [bar.height for bar in chart.bars] == [
        0,
        pytest.approx(plot_height * 22 / 40, abs=0.1),
        pytest.approx(plot_height * 11 / 40, abs=0.1),
    ]
    assert chart.bars[1].title == "Tue 11 Mar UTC: 22 page views, 5 sessions"
    assert len(chart.session_points.split()) == 3
    assert [tick.label for tick in chart.x_ticks] == ["Mon 10 Mar", "Tue 11 Mar", "Wed 12 Mar"]


def test_the_heatmap_legend_uses_the_image_colours(admin_client, tenant):
    page = admin_client.get(heatmap_url(tenant.project), {"path": "/"}).content.decode()
    assert f"linear-gradient(to right, rgb{STOPS[0]}" in page
    assert f"rgb{STOPS[-1]})" in page


@pytest.fixture
def enriched_traffic(recent_traffic):
    """Today, next to recent_traffic's sessions (stored before enrichment): two from a mobile
    Safari in Germany, one of them from a campaign, and a desktop Firefox from search."""
    now = timezone.now().replace(tzinfo=None).isoformat()
    mobile = {
        "browser": "Safari",
        "os": "iOS",
        "device": "mobile",
        "country": "DE",
        "source": "news",
        "channel": "Email",
    }
    for n, campaign in enumerate(["spring", None]):
        session = make_session(recent_traffic.project, anon_id=f"m{n}", utm_campaign=campaign, **mobile)
        make_event(session, now, path="/mobile")
    desktop = make_session(
        recent_traffic.project,
        browser="Firefox",
        os="Linux",
        device="desktop",
        source="Google",
        channel="Organic Search",
    )
    make_event(desktop, now, path="/desktop")
    return recent_traffic


def test_the_dashboard_lists_sessions_per_dimension_and_links_each_value_to_its_filter(admin_client, enriched_traffic):
    response = admin_client.get(dashboard_url(enriched_traffic.project) + "?range=today")
    page = text(response)
    assert "5 Sessions" in page
    for row in ("Safari 2", "Firefox 1", "mobile 2", "DE 2", "Email 2", "Organic Search 1", "spring 1", "Linux 1"):
        assert row in page, row
    assert "(unknown) 2" in page  # the sessions stored before enrichment
    html = response.content.decode()
    assert 'href="?range=today&amp;browser=Safari"' in html
    assert 'href="?range=today&amp;channel=Organic+Search"' in html
    assert 'href="?range=today&amp;utmCampaign=spring"' in html
    assert "Only sessions with" not in page


def test_a_filtered_dashboard_shows_only_those_sessions_and_removable_chips(admin_client, enriched_traffic):
    url = dashboard_url(enriched_traffic.project)
    response = admin_client.get(url, {"range": "today", "device": "mobile", "utmCampaign": "spring"})
    assert response.status_code == 200
    stats = response.context["stats"]
    assert (stats.totals.sessions, stats.totals.page_views) == (1, 1)
    assert [(row.value, row.count) for row in stats.top_paths] == [("/mobile", 1)]
    page = text(response)
    assert "Only sessions with Device: mobile \u00d7 Campaign: spring \u00d7 Remove all" in page
    html = response.content.decode()
    # Each chip's link keeps the range and the other filter; the picker keeps both filters.
    assert 'href="?range=today&amp;utmCampaign=spring" title="Remove this filter"' in html
    assert 'href="?range=today&amp;device=mobile" title="Remove this filter"' in html
    assert '<input type="hidden" name="device" value="mobile">' in html
    # A value of a filtered dimension links nowhere; the others add their filter to these.
    assert 'href="?range=today&amp;device=mobile&amp;utmCampaign=spring&amp;browser=Safari"' in html
    assert "device=mobile&amp;utmCampaign=spring&amp;device=" not in html
    # The page and the API count with the same selector.
    api = selectors.traffic_stats(
        project_id=enriched_traffic.project.id,
        time_range=stats.time_range,
        interval=stats.interval,
        filters={"device": "mobile", "utm_campaign": "spring"},
    )
    assert api == stats


def test_a_bad_filter_shows_an_error_and_every_session(admin_client, enriched_traffic):
    response = admin_client.get(dashboard_url(enriched_traffic.project), {"range": "today", "device": "phone"})
    assert response.status_code == 200
    assert "device: &#x27;phone&#x27; is not one of: desktop, mobile, tablet. Showing every session instead." in (
        response.content.decode()
    )
    assert response.context["stats"].totals.sessions == 5
    assert response.context["stats"].filters == {}
