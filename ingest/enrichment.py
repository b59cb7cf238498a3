"""What a session's first batch says about it beyond its fields: browser, operating system and
device from the User-Agent, country from the client address, source and channel from the
referrer and the landing URL's campaign parameters.

Everything a batch would otherwise recompute is cached per process: the User-Agent string's
parse, the referrer host's name and medium. The address lookup is not cached: the MaxMind
reader's C extension answers in microseconds, and a cache would keep client addresses in
memory. The address is looked up and forgotten, never stored or logged.

Data sets, loaded once per process:
- User-Agent rules: `ua-parser-builtins` (the uap-core regexes, precompiled), read by `ua-parser`.
- Referrers: Snowplow's referer-parser database, `referers.json` of the `referer-parser`
  package (search engines, social networks, webmail).
- Countries: any MaxMind-format database at GEOIP_PATH (see docs/operations.md).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypedDict
from urllib.parse import parse_qsl, urlsplit

import maxminddb
import ua_parser
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from ingest.models import Session
from projects.origins import normalise_origin

logger = logging.getLogger(__name__)

# Column bounds: short enough to group by, long enough for what the sources name.
FAMILY_MAX = 64
SOURCE_MAX = 255
UTM_MAX = 255
UA_CACHE_SIZE = 4096
REFERRER_CACHE_SIZE = 4096

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
CLICK_IDS = ("gclid", "msclkid", "fbclid")

DESKTOP, MOBILE, TABLET = Session.Device.DESKTOP, Session.Device.MOBILE, Session.Device.TABLET
Channel = Session.Channel
DIRECT = "Direct"  # the source of a session without referrer or campaign
PAID_MEDIUMS = frozenset({"cpc", "ppc"})
EMAIL_MEDIUMS = frozenset({"email", "newsletter"})

# ua-parser's families folded into the names the dashboard shows: one browser whatever device
# it runs on, one Linux whatever the distribution.
BROWSER_NAMES = {
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Safari": "Safari",
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome",
    "Chromium": "Chrome",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Firefox Focus": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "Opera Mini": "Opera",
    "Opera Touch": "Opera",
    "Samsung Internet": "Samsung Internet",
    "IE": "Internet Explorer",
    "IE Mobile": "Internet Explorer",
}
OS_NAMES = {
    "Mac OS X": "macOS",
    "iOS": "iOS",
    "iPadOS": "iOS",
    "Chrome OS": "Chrome OS",
    "Windows": "Windows",
    "Android": "Android",
}
LINUX_FAMILIES = frozenset(
    {
        "Linux",
        "Ubuntu",
        "Kubuntu",
        "Debian",
        "Fedora",
        "Red Hat",
        "CentOS",
        "Linux Mint",
        "Arch Linux",
        "openSUSE",
        "Gentoo",
        "Slackware",
        "Mandriva",
        "Manjaro",
    }
)
MOBILE_OSES = frozenset({"iOS", "Android", "Windows Phone", "KaiOS", "BlackBerry OS", "Firefox OS", "Symbian OS"})
TABLET_MARKERS = re.compile(r"tablet|ipad|kindle|playbook|nexus (7|9|10)|\bsm-[tx]\d", re.IGNORECASE)
COUNTRY_CODE = re.compile(r"[A-Z]{2}")
# Control characters are dropped from decoded parameters: Postgres text cannot hold NUL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class Enrichment(TypedDict):
    """The session columns set from its first batch; the keys are the columns' names."""

    browser: str
    os: str
    device: str
    country: str | None
    source: str
    channel: str
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None


# The session columns this module fills, in one place for the ingest statement.
COLUMNS = tuple(Enrichment.__annotations__)


@dataclass(frozen=True, slots=True)
class Landing:
    """What is kept of a landing URL: its campaign parameters and which click ids it had."""

    utm: dict[str, str]
    click_ids: frozenset[str]


NO_LANDING = Landing(utm={}, click_ids=frozenset())


@functools.lru_cache(maxsize=UA_CACHE_SIZE)
def client_software(user_agent: str) -> tuple[str, str, str]:
    """(browser, os, device) of a User-Agent string."""
    parsed = ua_parser.parse(user_agent)
    family = parsed.user_agent.family if parsed.user_agent else "Other"
    os_family = parsed.os.family if parsed.os else "Other"
    device = parsed.device
    browser = BROWSER_NAMES.get(family, family)
    os_name = "Linux" if os_family in LINUX_FAMILIES else OS_NAMES.get(os_family, os_family)
    device_text = " ".join(filter(None, (device.family, device.brand, device.model))) if device else ""
    if TABLET_MARKERS.search(device_text) or (os_name == "Android" and "Mobile" not in user_agent):
        kind = TABLET
    elif os_name in MOBILE_OSES or "Mobi" in user_agent:
        kind = MOBILE
    else:
        kind = DESKTOP
    return browser[:FAMILY_MAX], os_name[:FAMILY_MAX], kind


def _clean(value: str, maximum: int) -> str | None:
    value = CONTROL_CHARACTERS.sub("", value).strip()[:maximum].strip()
    return value or None


def landing(url: str) -> Landing:
    """The campaign parameters (first of each, cleaned) and click ids of a landing URL; the
    rest of it is not kept anywhere."""
    if not url or "?" not in url:
        return NO_LANDING
    utm: dict[str, str] = {}
    click_ids = set()
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        name = name.lower()
        if name in CLICK_IDS:
            click_ids.add(name)
        elif name in UTM_FIELDS and name not in utm:
            cleaned = _clean(value, UTM_MAX)
            if cleaned is not None:
                utm[name] = cleaned
    return Landing(utm=utm, click_ids=frozenset(click_ids))


# The referrer data set -----------------------------------------------------------------------


@functools.cache
def referrer_table() -> dict[str, tuple[str, str]]:
    """host -> (name, medium) from Snowplow's referer-parser database; medium is search,
    social, email or unknown."""
    data = json.loads(resources.files("referer_parser").joinpath("data/referers.json").read_text())
    table = {}
    for medium, referrers in data.items():
        for name, config in referrers.items():
            for domain in config["domains"]:
                # Entries with a path (www.google.com/products) name a part of a host that has
                # its own entry: the host's entry stands for all of it.
                if "/" not in domain:
                    table.setdefault(domain.lower(), (name, medium))
    return table


@functools.cache
def social_sources() -> frozenset[str]:
    """utm_source values that name a social network: its name or one of its hosts, lower-case."""
    names = set()
    for host, (name, medium) in referrer_table().items():
        if medium == "social":
            names.update((host, name.lower(), name.lower().replace(" ", "")))
    return frozenset(names)


@functools.lru_cache(maxsize=REFERRER_CACHE_SIZE)
def known_referrer(host: str) -> tuple[str, str] | None:
    """(name, medium) of a referrer host, trying its parent domains (m.facebook.com,
    old.reddit.com) and its www. form (google.de is listed as www.google.de)."""
    table = referrer_table()
    labels = host.split(".")
    for start in range(len(labels) - 1):
        candidate = ".".join(labels[start:])
        found = table.get(candidate) or table.get(f"www.{candidate}")
        if found is not None:
            return found
    return None


def referrer_host(referrer: str, *, own_origins: frozenset[str]) -> str | None:
    """The referrer's lower-case host, None for no referrer, one without a host, or one on the
    project's own origins."""
    if not referrer:
        return None
    try:
        parts = urlsplit(referrer.strip())
        host = parts.hostname
    except ValueError:
        return None
    if not host:
        return None
    try:
        if normalise_origin(f"{parts.scheme}://{parts.netloc}") in own_origins:
            return None
    except ValueError:
        pass  # not an origin the project could have listed (no scheme, a bad port)
    return host.rstrip(".")


def attribution(*, host: str | None, landing_info: Landing) -> tuple[str, str]:
    """(source, channel) by the contract's rules, in their order."""
    utm = landing_info.utm
    clicks = landing_info.click_ids
    known = known_referrer(host) if host else None
    utm_source = utm.get("utm_source")
    if utm_source:
        source = utm_source
    elif known is not None:
        source = known[0]
    elif "gclid" in clicks:
        source = "Google"
    elif "msclkid" in clicks:
        source = "Bing"
    elif host:
        source = host.removeprefix("www.")
    else:
        source = DIRECT
    medium = (utm.get("utm_medium") or "").lower()
    if medium in PAID_MEDIUMS or medium.startswith("paid") or "gclid" in clicks or "msclkid" in clicks:
        channel = Channel.PAID_SEARCH
    elif medium in EMAIL_MEDIUMS:
        channel = Channel.EMAIL
    elif (known is not None and known[1] == "social") or (utm_source or "").lower() in social_sources():
        channel = Channel.ORGANIC_SOCIAL
    elif known is not None and known[1] == "search":
        channel = Channel.ORGANIC_SEARCH
    elif host is None and not utm:
        channel = Channel.DIRECT
    else:
        channel = Channel.REFERRAL
    return source[:SOURCE_MAX], channel


def load_data_sets() -> None:
    """Loads the User-Agent rules and the referrer table, which would otherwise load on the
    first request that needs them."""
    ua_parser.parse("")
    social_sources()


# Countries -----------------------------------------------------------------------------------


class CountryReader:
    """A MaxMind-format database, opened once per process; without one every country is None."""

    def __init__(self, path: str) -> None:
        self.reader: Any = None
        if not path:
            logger.warning("GEOIP_PATH is empty: sessions get no country")
            return
        try:
            self.reader = maxminddb.open_database(path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            logger.warning("no country database at GEOIP_PATH=%s (%s): sessions get no country", path, exc)

    def country(self, address: str) -> str | None:
        if self.reader is None or not address:
            return None
        try:
            record = self.reader.get(address)
        except (ValueError, maxminddb.InvalidDatabaseError):
            # Not an address (a proxy's junk in X-Forwarded-For), or IPv6 in an IPv4 database.
            return None
        return _country_code(record)


def _country_code(record: Any) -> str | None:
    """ISO code from the record layouts in use: GeoLite2 / DB-IP (`country.iso_code`) and
    ip-location-db (`country_code`)."""
    if not isinstance(record, dict):
        return None
    code = record.get("country_code")
    country = record.get("country")
    if code is None and isinstance(country, dict):
        code = country.get("iso_code")
    if not isinstance(code, str):
        return None
    code = code.upper()
    return code if COUNTRY_CODE.fullmatch(code) else None


_countries: CountryReader | None = None


def countries() -> CountryReader:
    global _countries
    if _countries is None:
        _countries = CountryReader(settings.GEOIP_PATH)
    return _countries


@receiver(setting_changed)
def _reopen_on_new_path(*, setting: str, **kwargs: Any) -> None:
    global _countries
    if setting == "GEOIP_PATH":
        _countries = None


# The whole --------------------------------------------------------------------------------


def enrich(
    *, user_agent: str, client_address: str, referrer: str, landing_url: str, own_origins: frozenset[str]
) -> Enrichment:
    """The session's columns from its first batch. The address is only looked up."""
    browser, os_name, device = client_software(user_agent)
    landing_info = landing(landing_url)
    source, channel = attribution(host=referrer_host(referrer, own_origins=own_origins), landing_info=landing_info)
    utm = landing_info.utm
    return {
        "browser": browser,
        "os": os_name,
        "device": device,
        "country": countries().country(client_address),
        "source": source,
        "channel": channel,
        "utm_source": utm.get("utm_source"),
        "utm_medium": utm.get("utm_medium"),
        "utm_campaign": utm.get("utm_campaign"),
        "utm_term": utm.get("utm_term"),
        "utm_content": utm.get("utm_content"),
    }
