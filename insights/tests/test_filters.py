"""Sessions per browser, OS, device, country, source, channel and campaign, and the filters on
them that restrict every number of GET /v1/projects/<id>/stats (hand-counted traffic)."""

import pytest

from ingest.models import SESSION_DIMENSIONS
from ingest.tests.factories import make_event, make_session
from insights import filters

pytestmark = pytest.mark.django_db

RANGE = "from=2025-03-10&to=2025-03-10"
DESKTOP_SEARCH = {
    "browser": "Chrome",
    "os": "Windows",
    "device": "desktop",
    "country": "US",
    "source": "Google",
    "channel": "Organic Search",
}


@pytest.fixture
def traffic(tenant, other_tenant):
    project = tenant.project
    s1 = make_session(project, anon_id="A", **DESKTOP_SEARCH)
    make_event(s1, "2025-03-10 10:10", path="/")
    make_event(s1, "2025-03-10 10:20", path="/pricing")
    make_event(s1, "2025-03-10 11:05", type="signup", path="/pricing")
    s2 = make_session(
        project,
        anon_id="B",
        browser="Safari",
        os="iOS",
        device="mobile",
        country="DE",
        source="news",
        channel="Email",
        utm_campaign="spring",
    )
    make_event(s2, "2025-03-10 10:30", path="/")
    s3 = make_session(
        project, anon_id="A", browser="Chrome", os="Android", device="mobile", source="Direct", channel="Direct"
    )
    make_event(s3, "2025-03-10 12:00", path="/docs")
    make_event(s3, "2025-03-10 12:01", type="cta_click", path="/docs")
    before_enrichment = make_session(project, anon_id="C")
    make_event(before_enrichment, "2025-03-10 13:00", path="/")

    stranger = make_session(other_tenant.project, anon_id="A", utm_campaign="spring", **DESKTOP_SEARCH)
    make_event(stranger, "2025-03-10 10:00", path="/secret")
    return tenant


def stats(admin_api, project, query: str = "") -> dict:
    response = admin_api.get(f"/v1/projects/{project.id}/stats?{RANGE}&{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_sessions_are_counted_per_dimension_with_unknown_values_as_null(traffic, admin_api):
    body = stats(admin_api, traffic.project)
    assert body["filters"] == {}
    assert body["totals"]["sessions"] == 4
    assert body["browsers"] == [
        {"browser": "Chrome", "sessions": 2},
        {"browser": "Safari", "sessions": 1},
        {"browser": None, "sessions": 1},
    ]
    assert body["operatingSystems"] == [
        {"os": "Android", "sessions": 1},
        {"os": "Windows", "sessions": 1},
        {"os": "iOS", "sessions": 1},
        {"os": None, "sessions": 1},
    ]
    assert body["devices"] == [
        {"device": "mobile", "sessions": 2},
        {"device": "desktop", "sessions": 1},
        {"device": None, "sessions": 1},
    ]
    assert body["countries"] == [
        {"country": None, "sessions": 2},
        {"country": "DE", "sessions": 1},
        {"country": "US", "sessions": 1},
    ]
    assert body["sources"] == [
        {"source": "Direct", "sessions": 1},
        {"source": "Google", "sessions": 1},
        {"source": "news", "sessions": 1},
        {"source": None, "sessions": 1},
    ]
    assert body["channels"] == [
        {"channel": "Direct", "sessions": 1},
        {"channel": "Email", "sessions": 1},
        {"channel": "Organic Search", "sessions": 1},
        {"channel": None, "sessions": 1},
    ]
    # Sessions without a campaign are left out of this one list.
    assert body["utmCampaigns"] == [{"utmCampaign": "spring", "sessions": 1}]
    for breakdown in ("browsers", "operatingSystems", "devices", "countries", "sources", "channels"):
        assert sum(row["sessions"] for row in body[breakdown]) == body["totals"]["sessions"]


def test_a_filter_restricts_every_number_to_its_sessions(traffic, admin_api):
    body = stats(admin_api, traffic.project, "browser=Chrome")
    assert body["filters"] == {"browser": "Chrome"}
    assert body["totals"] == {
        "pageViews": 3,
        "events": 5,
        "sessions": 2,
        "visitors": 1,
        "visitorsEstimated": False,
        "visitorsStandardError": None,
        "eventsPerSession": 2.5,
        "sessionsWithPageView": 2,
        "bouncedSessions": 1,
        "bounceRate": 0.5,
    }
    assert body["series"] == [{"start": "2025-03-10T00:00:00Z", "pageViews": 3, "sessions": 2}]
    assert body["topPaths"] == [
        {"path": "/", "pageViews": 1},
        {"path": "/docs", "pageViews": 1},
        {"path": "/pricing", "pageViews": 1},
    ]
    assert body["topEventTypes"] == [
        {"type": "page_view", "events": 3},
        {"type": "cta_click", "events": 1},
        {"type": "signup", "events": 1},
    ]
    assert body["topReferrers"] == [{"referrer": "", "sessions": 2}]
    assert body["browsers"] == [{"browser": "Chrome", "sessions": 2}]
    assert body["devices"] == [{"device": "desktop", "sessions": 1}, {"device": "mobile", "sessions": 1}]
    assert body["utmCampaigns"] == []


def test_filters_combine_with_and(traffic, admin_api):
    body = stats(admin_api, traffic.project, "browser=Chrome&device=mobile&channel=Direct")
    assert body["filters"] == {"browser": "Chrome", "device": "mobile", "channel": "Direct"}
    assert (body["totals"]["sessions"], body["totals"]["pageViews"], body["totals"]["events"]) == (1, 1, 2)
    assert body["topPaths"] == [{"path": "/docs", "pageViews": 1}]
    assert stats(admin_api, traffic.project, "browser=Safari&device=desktop")["totals"]["sessions"] == 0


def test_a_campaign_filter_counts_only_this_projects_sessions(traffic, admin_api):
    body = stats(admin_api, traffic.project, "utmCampaign=spring")
    assert body["filters"] == {"utmCampaign": "spring"}
    assert (body["totals"]["sessions"], body["totals"]["visitors"]) == (1, 1)
    assert body["topPaths"] == [{"path": "/", "pageViews": 1}]
    assert body["utmCampaigns"] == [{"utmCampaign": "spring", "sessions": 1}]


def test_a_value_no_session_has_gives_zeros_and_empty_lists(traffic, admin_api):
    body = stats(admin_api, traffic.project, "country=FR")
    assert body["filters"] == {"country": "FR"}
    assert body["totals"]["sessions"] == body["totals"]["pageViews"] == 0
    assert body["series"] == [{"start": "2025-03-10T00:00:00Z", "pageViews": 0, "sessions": 0}]
    for breakdown in ("topPaths", "topEventTypes", "topReferrers", "browsers", "countries", "utmCampaigns"):
        assert body[breakdown] == []


def test_an_empty_filter_filters_nothing(traffic, admin_api):
    body = stats(admin_api, traffic.project, "browser=&country=")
    assert body["filters"] == {}
    assert body["totals"]["sessions"] == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("device=phone", "device"),
        ("channel=Organic", "channel"),
        ("country=us", "country"),
        ("country=USA", "country"),
        (f"browser={'x' * 65}", "browser"),
        (f"utmCampaign={'x' * 256}", "utmCampaign"),
        ("source=a%00b", "source"),
        ("os=Linux%0A", "os"),
        ("browser=Chrome&browser=Safari", "browser"),
    ],
)
def test_a_filter_no_session_can_match_is_a_clear_400(traffic, admin_api, query, field):
    response = admin_api.get(f"/v1/projects/{traffic.project.id}/stats?{RANGE}&{query}")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid_field", field)
    assert error["message"].startswith(f"{field}: ")


def test_the_longest_values_are_accepted(traffic, admin_api):
    body = stats(admin_api, traffic.project, f"browser={'x' * 64}&utmCampaign={'y' * 255}")
    assert body["totals"]["sessions"] == 0


def test_every_session_dimension_has_a_parameter():
    assert sorted(filters.PARAMETERS.values()) == sorted(SESSION_DIMENSIONS)
