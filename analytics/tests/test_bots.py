"""The bot verdict on real User-Agent strings."""

import re

import pytest
from crawleruseragents import CRAWLER_USER_AGENTS_DATA

from analytics import bots

BROWSERS = {
    "Chrome, Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Chrome, Android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Firefox, Linux": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Firefox, Android": "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "Safari, macOS": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Safari, iPhone": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Edge, Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Edge, Android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0",
}
GENERIC_CLIENTS = {
    "curl": "curl/8.5.0",
    "Wget": "Wget/1.21.4",
    "python-requests": "python-requests/2.32.3",
    "Python urllib": "Python-urllib/3.12",
    "aiohttp": "Python/3.12 aiohttp/3.10.10",
    "httpx": "python-httpx/0.27.2",
    "Go": "Go-http-client/2.0",
    "Java": "Java/17.0.13",
    "Apache HttpClient": "Apache-HttpClient/4.5.14 (Java/17.0.13)",
    "okhttp": "okhttp/4.12.0",
    "Node fetch (undici)": "node",
    "undici": "undici",
    "node-fetch": "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "axios": "axios/1.7.9",
}
BOTS = {
    "Googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Googlebot smartphone": "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)",
    "bingbot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
    "+http://www.bing.com/bingbot.htm) Chrome/131.0.0.0 Safari/537.36",
    "AhrefsBot": "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "PetalBot": "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 "
    "(compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
    "HeadlessChrome": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36",
    "Lighthouse": "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "PhantomJS": "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 "
    "Safari/538.1",
    "Scrapy": "Scrapy/2.11.2 (+https://scrapy.org)",
    "GPTBot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
}


@pytest.mark.parametrize("user_agent", BROWSERS.values(), ids=BROWSERS.keys())
def test_browsers_are_not_bots(user_agent):
    assert bots.is_bot(user_agent) is False


@pytest.mark.parametrize("user_agent", GENERIC_CLIENTS.values(), ids=GENERIC_CLIENTS.keys())
def test_generic_http_clients_are_not_bots(user_agent):
    assert bots.is_bot(user_agent) is False


@pytest.mark.parametrize("user_agent", BOTS.values(), ids=BOTS.keys())
def test_crawlers_and_headless_browsers_are_bots(user_agent):
    assert bots.is_bot(user_agent) is True


@pytest.mark.parametrize("user_agent", ["", None])
def test_an_empty_or_missing_user_agent_is_not_a_bot(user_agent):
    assert bots.is_bot(user_agent) is False


def test_every_excluded_pattern_is_still_in_the_list():
    # A pattern renamed by a new release of the list would otherwise match its clients again
    # without this set noticing.
    assert {entry["pattern"] for entry in CRAWLER_USER_AGENTS_DATA} >= bots.GENERIC_CLIENT_PATTERNS


@pytest.mark.parametrize("name", ["curl", "python-requests", "Go", "okhttp", "node-fetch", "axios"])
def test_the_list_itself_names_these_clients_so_they_are_excluded(name):
    listed = [re.compile(entry["pattern"]) for entry in CRAWLER_USER_AGENTS_DATA]
    assert any(pattern.search(GENERIC_CLIENTS[name]) for pattern in listed)
    assert bots.is_bot(GENERIC_CLIENTS[name]) is False


def test_only_the_start_of_a_long_user_agent_is_read():
    padding = "x" * bots.MAX_USER_AGENT
    assert bots.is_bot(BOTS["Googlebot"] + padding) is True
    assert bots.is_bot(padding + BOTS["Googlebot"]) is False


def test_the_verdict_is_cached_per_user_agent_in_a_bounded_cache():
    bots._verdict.cache_clear()
    for _ in range(3):
        bots.is_bot(BROWSERS["Safari, iPhone"])
    info = bots._verdict.cache_info()
    assert (info.misses, info.hits, info.maxsize) == (1, 2, bots.VERDICT_CACHE_SIZE)
