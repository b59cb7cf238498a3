"""Sessions enriched from their first batch: browser, OS, device, country, source, channel, UTM."""

import logging

import pytest
from django.core.management import call_command
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from ingest.models import Event, HourlyCountDelta, Session, SessionHour
from ingest.tests.conftest import make_batch

pytestmark = pytest.mark.django_db

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
ENRICHED = (
    "browser",
    "os",
    "device",
    "country",
    "source",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
)


@pytest.fixture
def countries(tmp_path, settings):
    """A small country database in both record layouts in use (GeoLite2's and ip-location-db's)."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "DE"}})
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country_code": "jp"})
    writer.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "FR"}})
    writer.insert_network(IPSet(["192.0.2.0/24"]), {"country_code": "not a code"})
    path = tmp_path / "countries.mmdb"
    writer.to_db_file(str(path))
    settings.GEOIP_PATH = str(path)
    return path


def batch_with(key: str, *, session_id: str = "s-enriched", **session) -> dict:
    batch = make_batch(key, events=1, movement=0, session_id=session_id)
    batch["session"].update(session)
    return batch


def enriched(session: Session) -> dict:
    return {column: getattr(session, column) for column in ENRICHED}


def test_a_session_carries_what_its_first_batch_says(send, tenant, countries):
    batch = batch_with(
        tenant.key,
        referrer="https://www.google.com/search?q=analytics",
        landingUrl="https://shop.example/sale?utm_source=Spring%20Mail&utm_medium=email&utm_campaign=launch"
        "&utm_term=shoes&utm_content=hero&gclid=abc&coupon=SECRET",
    )
    response = send(batch, HTTP_USER_AGENT=SAFARI_IPHONE, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 202
    assert response.json()["accepted"] == {"events": 1, "movement": 0}
    session = Session.objects.get(project=tenant.project)
    assert enriched(session) == {
        "browser": "Safari",
        "os": "iOS",
        "device": "mobile",
        "country": "DE",
        "source": "Spring Mail",
        # A gclid makes it a paid click, whatever the campaign's medium says.
        "channel": "Paid Search",
        "utm_source": "Spring Mail",
        "utm_medium": "email",
        "utm_campaign": "launch",
        "utm_term": "shoes",
        "utm_content": "hero",
    }


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (CHROME_WINDOWS, ("Chrome", "Windows", "desktop")),
        (CHROME_WINDOWS + " Edg/130.0.0.0", ("Edge", "Windows", "desktop")),
        (CHROME_WINDOWS + " OPR/115.0.0.0", ("Opera", "Windows", "desktop")),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Safari/605.1.15",
            ("Safari", "macOS", "desktop"),
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
            ("Firefox", "Linux", "desktop"),
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
            "Safari/537.36",
            ("Chrome", "Chrome OS", "desktop"),
        ),
        (SAFARI_IPHONE, ("Safari", "iOS", "mobile")),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "CriOS/130.0.6723.90 Mobile/15E148 Safari/604.1",
            ("Chrome", "iOS", "mobile"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 "
            "Chrome/121.0.0.0 Mobile Safari/537.36",
            ("Samsung Internet", "Android", "mobile"),
        ),
        ("Mozilla/5.0 (Android 14; Mobile; rv:131.0) Gecko/131.0 Firefox/131.0", ("Firefox", "Android", "mobile")),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
            "Mobile/15E148 Safari/604.1",
            ("Safari", "iOS", "tablet"),
        ),
        # An Android browser without "Mobile" runs on a tablet.
        (
            "Mozilla/5.0 (Linux; Android 14; Lenovo TB-X606F) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36",
            ("Chrome", "Android", "tablet"),
        ),
        ("curl/8.5.0", ("curl", "Other", "desktop")),
        ("", ("Other", "Other", "desktop")),
    ],
)
def test_browser_os_and_device_come_from_the_user_agent(send, tenant, user_agent, expected):
    assert send(batch_with(tenant.key), HTTP_USER_AGENT=user_agent).status_code == 202
    session = Session.objects.get(project=tenant.project)
    assert (session.browser, session.os, session.device) == expected


def test_later_batches_never_change_what_the_first_said(send, tenant, countries):
    first = batch_with(
        tenant.key, referrer="https://news.ycombinator.com/item?id=1", landingUrl="https://shop.example/?utm_campaign=a"
    )
    assert send(first, HTTP_USER_AGENT=CHROME_WINDOWS, REMOTE_ADDR="203.0.113.7").status_code == 202
    before = Session.objects.get(project=tenant.project)
    later = batch_with(
        tenant.key,
        referrer="https://www.bing.com/",
        landingUrl="https://shop.example/?utm_source=x&utm_medium=cpc&utm_campaign=b&gclid=1",
    )
    response = send(later, HTTP_USER_AGENT=SAFARI_IPHONE, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 202
    after = Session.objects.get(project=tenant.project)
    assert after.last_seen_at >= before.last_seen_at
    assert Event.objects.filter(project=tenant.project).count() == 2
    assert (
        enriched(after)
        == enriched(before)
        == {
            "browser": "Chrome",
            "os": "Windows",
            "device": "desktop",
            "country": "DE",
            "source": "Hacker News",
            "channel": "Organic Social",
            "utm_source": None,
            "utm_medium": None,
            "utm_campaign": "a",
            "utm_term": None,
            "utm_content": None,
        }
    )


def test_only_the_campaign_parameters_of_the_landing_url_are_kept(send, tenant, caplog):
    caplog.set_level(logging.DEBUG)
    landing = (
        "https://shop.example/private-path/order-1234?email=someone%40mail.example&token=secret-token"
        "&utm_campaign=%20winter%00sale%20&utm_source=&fbclid=xyz#fragment-secret"
    )
    response = send(batch_with(tenant.key, referrer="", landingUrl=landing))
    assert response.status_code == 202
    session = Session.objects.get(project=tenant.project)
    # Spaces and control characters around and inside are dropped; an empty parameter is none.
    assert (session.utm_campaign, session.utm_source) == ("wintersale", None)
    assert (session.source, session.channel) == ("Direct", "Referral")
    rows = [
        *Session.objects.values(),
        *Event.objects.values(),
        *SessionHour.objects.values(),
        *HourlyCountDelta.objects.values(),
    ]
    for secret in ("private-path", "order-1234", "someone", "secret-token", "fragment-secret", "xyz", "fbclid"):
        assert all(secret not in str(row) for row in rows)
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("landing_url", "problem"),
    [
        ("https://shop.example/?" + "x" * 2048, "must be at most 2048 characters"),
        (42, "must be a string"),
        ({"url": "https://shop.example/"}, "must be a string"),
        ("https://shop.example/\x00", "must not contain NUL characters"),
    ],
)
def test_a_bad_landing_url_refuses_the_batch_and_stores_nothing(send, tenant, landing_url, problem):
    response = send(batch_with(tenant.key, landingUrl=landing_url))
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid_field"
    assert body["error"]["details"]["field"] == "session.landingUrl"
    assert problem in body["error"]["message"]
    assert not Session.objects.exists() and not Event.objects.exists()


def test_a_landing_url_of_2048_characters_is_accepted(send, tenant):
    landing = "https://shop.example/?utm_source=ok&pad="
    landing += "x" * (2048 - len(landing))
    assert send(batch_with(tenant.key, landingUrl=landing)).status_code == 202
    assert Session.objects.get(project=tenant.project).utm_source == "ok"


@pytest.mark.parametrize(
    ("referrer", "query", "source", "channel"),
    [
        ("", "", "Direct", "Direct"),
        ("https://www.google.com/", "", "Google", "Organic Search"),
        ("https://www.google.de/search?q=x", "", "Google", "Organic Search"),
        ("https://duckduckgo.com/", "", "DuckDuckGo", "Organic Search"),
        ("https://www.bing.com/search?q=x", "", "Bing", "Organic Search"),
        ("https://old.reddit.com/r/python/", "", "Reddit", "Organic Social"),
        ("https://l.facebook.com/l.php?u=x", "", "Facebook", "Organic Social"),
        ("https://www.linkedin.com/feed/", "", "LinkedIn", "Organic Social"),
        ("https://news.ycombinator.com/", "", "Hacker News", "Organic Social"),
        ("https://github.com/org/repo", "", "GitHub", "Organic Social"),
        ("https://www.blog.example/post", "", "blog.example", "Referral"),
        ("https://Partner.Example/", "", "partner.example", "Referral"),
        ("", "?utm_source=newsletter&utm_medium=email", "newsletter", "Email"),
        ("", "?utm_source=weekly&utm_medium=Newsletter", "weekly", "Email"),
        ("", "?utm_source=google&utm_medium=cpc", "google", "Paid Search"),
        ("", "?utm_source=bing&utm_medium=ppc", "bing", "Paid Search"),
        ("", "?utm_source=meta&utm_medium=paid_social", "meta", "Paid Search"),
        ("", "?gclid=abc", "Google", "Paid Search"),
        ("", "?msclkid=abc", "Bing", "Paid Search"),
        ("https://www.bing.com/", "?gclid=abc", "Bing", "Paid Search"),
        ("", "?fbclid=abc", "Direct", "Direct"),
        ("", "?utm_source=twitter", "twitter", "Organic Social"),
        ("", "?utm_source=Facebook&utm_medium=social", "Facebook", "Organic Social"),
        ("", "?utm_campaign=spring", "Direct", "Referral"),
        ("https://www.google.com/", "?utm_source=partner", "partner", "Organic Search"),
        ("https://www.google.com/", "?utm_source=google&utm_medium=email", "google", "Email"),
        ("android-app://com.example.reader/", "", "com.example.reader", "Referral"),
        ("not a url", "", "Direct", "Direct"),
    ],
)
def test_source_and_channel_follow_the_contracts_rules(send, tenant, referrer, query, source, channel):
    batch = batch_with(tenant.key, referrer=referrer, landingUrl=f"https://shop.example/{query}")
    assert send(batch).status_code == 202
    session = Session.objects.get(project=tenant.project)
    assert (session.source, session.channel) == (source, channel)


@pytest.mark.parametrize("referrer", ["https://shop.example/cart", "https://SHOP.example:443/", "https://shop.example"])
def test_a_referrer_on_the_projects_own_origin_counts_as_none(send, tenant, referrer):
    assert send(batch_with(tenant.key, referrer=referrer)).status_code == 202
    session = Session.objects.get(project=tenant.project)
    assert (session.source, session.channel) == ("Direct", "Direct")
    assert session.referrer == referrer


def test_another_port_or_scheme_of_the_host_is_not_the_projects_origin(send, tenant):
    assert send(batch_with(tenant.key, referrer="http://shop.example:8080/")).status_code == 202
    assert Session.objects.get(project=tenant.project).source == "shop.example"


def test_the_country_comes_from_the_forwarded_address_only_behind_a_trusted_proxy(send, tenant, countries, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    behind = batch_with(tenant.key, session_id="behind-proxy")
    response = send(behind, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert response.status_code == 202
    direct = batch_with(tenant.key, session_id="claims-to-be-forwarded")
    assert send(direct, REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.9").status_code == 202
    countries_by_session = dict(Session.objects.values_list("session_id", "country"))
    assert countries_by_session == {"behind-proxy": "JP", "claims-to-be-forwarded": "DE"}


@pytest.mark.parametrize(
    ("address", "country"),
    [("2001:db8::1", "FR"), ("192.0.2.1", None), ("8.8.8.8", None), ("not-an-address", None)],
)
def test_an_address_the_database_does_not_place_gets_no_country(send, tenant, countries, settings, address, country):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    response = send(batch_with(tenant.key), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=address)
    assert response.status_code == 202
    assert Session.objects.get(project=tenant.project).country == country


def test_without_a_country_database_the_country_is_null_and_a_warning_says_so(send, tenant, settings, tmp_path, caplog):
    settings.GEOIP_PATH = str(tmp_path / "missing.mmdb")
    with caplog.at_level(logging.WARNING, logger="ingest.enrichment"):
        first = send(batch_with(tenant.key, session_id="one"), REMOTE_ADDR="203.0.113.7")
        second = send(batch_with(tenant.key, session_id="two"), REMOTE_ADDR="203.0.113.8")
    assert (first.status_code, second.status_code) == (202, 202)
    assert list(Session.objects.values_list("country", flat=True)) == [None, None]
    warnings = [record for record in caplog.records if "GEOIP_PATH" in record.getMessage()]
    assert len(warnings) == 1
    assert "203.0.113" not in caplog.text


def test_an_unreadable_country_database_is_no_database(send, tenant, settings, tmp_path):
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database")
    settings.GEOIP_PATH = str(broken)
    assert send(batch_with(tenant.key), REMOTE_ADDR="203.0.113.7").status_code == 202
    assert Session.objects.get(project=tenant.project).country is None


def test_the_client_address_is_never_stored_nor_logged(send, tenant, countries, caplog):
    caplog.set_level(logging.DEBUG)
    assert send(batch_with(tenant.key), REMOTE_ADDR="203.0.113.77").status_code == 202
    session = Session.objects.get(project=tenant.project)
    assert session.country == "DE"
    assert all("203.0.113.77" not in str(value) for value in Session.objects.values().get().values())
    assert "203.0.113.77" not in caplog.text


def test_the_same_session_id_in_another_project_is_left_alone(send, tenant, other_tenant, countries):
    theirs = batch_with(
        other_tenant.key, referrer="https://github.com/", landingUrl="https://blog.example/?utm_source=a"
    )
    assert send(theirs, HTTP_USER_AGENT=SAFARI_IPHONE, REMOTE_ADDR="198.51.100.1").status_code == 202
    before = enriched(Session.objects.get(project=other_tenant.project))
    ours = batch_with(tenant.key, referrer="https://www.google.com/", landingUrl="https://shop.example/?gclid=1")
    assert send(ours, HTTP_USER_AGENT=CHROME_WINDOWS, REMOTE_ADDR="203.0.113.1").status_code == 202
    assert enriched(Session.objects.get(project=other_tenant.project)) == before
    assert before["country"] == "JP" and before["source"] == "a"
    mine = Session.objects.get(project=tenant.project)
    assert (mine.browser, mine.country, mine.source, mine.channel) == ("Chrome", "DE", "Google", "Paid Search")


def test_a_refused_batch_enriches_nothing(send, tenant, countries):
    batch = batch_with(tenant.key, referrer=7, landingUrl="https://shop.example/?utm_source=x")
    response = send(batch, HTTP_USER_AGENT=CHROME_WINDOWS, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == "session.referrer"
    assert not Session.objects.exists() and not Event.objects.exists()


def test_generated_traffic_is_enriched_through_the_same_path(tenant, countries):
    call_command("generate_traffic", str(tenant.project.id), "--days", "2", "--events", "1500", "--seed", "3")
    sessions = Session.objects.filter(project=tenant.project)
    assert set(sessions.values_list("device", flat=True)) == {"desktop", "mobile", "tablet"}
    assert {"Chrome", "Safari", "Firefox", "Edge"} <= set(sessions.values_list("browser", flat=True))
    assert {"Windows", "macOS", "iOS", "Android"} <= set(sessions.values_list("os", flat=True))
    channels = set(sessions.values_list("channel", flat=True))
    assert {"Direct", "Organic Search", "Organic Social", "Paid Search", "Email", "Referral"} <= channels
    assert {"Google", "Hacker News", "DuckDuckGo", "Direct"} <= set(sessions.values_list("source", flat=True))
    assert sessions.filter(utm_campaign__isnull=False).exists()
    # The test database places none of the generated addresses: a real one does.
    assert set(sessions.values_list("country", flat=True)) == {None}
    assert not sessions.filter(browser__isnull=True).exists()
