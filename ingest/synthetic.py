"""Synthetic but plausible traffic, for demos and for measuring the insights queries.

Visitors arrive more in the afternoon (UTC) than at night and less at weekends, some come
back; a session lands on an entry page from a referrer, views a few pages (about four in
ten bounce), fires some custom events, and moves, clicks and scrolls on each page around
the spots a real page would draw them to. Everything derives from one seed.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from ingest import partitions, services, statements
from ingest.payload import SessionInput, epoch_us
from ingest.services import SessionRecord

logger = logging.getLogger(__name__)

# Hour-of-day weights (UTC), Monday..Sunday weights.
HOURLY = [2, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 11, 12, 12, 13, 13, 12, 11, 10, 9, 8, 6, 4, 3]
WEEKDAY = [10, 10, 10, 10, 9, 6, 5]

# The site the traffic lands on (its landing URLs).
SITE = "https://www.example.com"
REFERRERS = {
    "": 34,
    "https://www.google.com/": 26,
    "https://www.google.de/": 4,
    "https://news.ycombinator.com/": 6,
    "https://duckduckgo.com/": 5,
    "https://www.reddit.com/": 5,
    "https://l.facebook.com/": 4,
    "https://t.co/": 3,
    "https://github.com/": 4,
    "https://www.bing.com/": 3,
    "https://www.linkedin.com/": 2,
    "https://newsletter.example.net/": 2,
    "https://www.producthunt.com/": 2,
}
# The query of the landing page: most sessions have none; campaigns tag the rest (a paid search
# ad's click carries a gclid, a Microsoft ad's an msclkid).
LANDING_QUERIES = {
    "": 80,
    "?utm_source=newsletter&utm_medium=email&utm_campaign=spring-launch": 5,
    "?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=web+analytics&gclid=Cj0KCQ": 5,
    "?utm_source=bing&utm_medium=cpc&utm_campaign=brand&msclkid=7d1f2e": 1,
    "?utm_source=twitter&utm_medium=social&utm_campaign=spring-launch&utm_content=thread": 3,
    "?utm_source=partner-blog&utm_medium=referral&utm_campaign=integrations": 2,
    "?gclid=EAIaIQobChMI": 4,
}
# Client addresses, one per country, weighted like a site with a worldwide audience. They only
# find the session's country through the country database, as a real client's would.
ADDRESSES = {
    "8.8.8.8": 30,  # US
    "81.2.69.160": 10,  # GB
    "5.62.60.1": 12,  # DE
    "90.0.0.1": 8,  # FR
    "2.16.0.1": 5,  # NL
    "200.160.2.3": 6,  # BR
    "133.242.0.1": 5,  # JP
    "1.1.1.1": 3,  # AU
    "41.0.0.1": 2,  # ZA
    "2001:4860:4860::8888": 4,  # US, over IPv6
}
LANGUAGES = {
    "en-US": 34,
    "en-GB": 9,
    "de-DE": 12,
    "fr-FR": 9,
    "es-ES": 8,
    "pt-BR": 6,
    "ja-JP": 5,
    "nl-NL": 4,
    "it-IT": 4,
    "pl-PL": 3,
    "zh-CN": 3,
    "": 3,
}
# Desktop, phone and tablet browsers; a screen is drawn for each kind of device.
DESKTOP_AGENTS = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
    "Safari/537.36": 30,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
    "Safari/537.36 Edg/130.0.0.0": 8,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15": 12,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
    "Safari/537.36": 10,
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0": 5,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0": 5,
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36": 2,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
    "Safari/537.36 OPR/115.0.0.0": 2,
}
MOBILE_AGENTS = {
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1": 20,
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
    "Mobile Safari/537.36": 14,
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 "
    "Chrome/121.0.0.0 Mobile Safari/537.36": 6,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "CriOS/130.0.6723.90 Mobile/15E148 Safari/604.1": 4,
    "Mozilla/5.0 (Android 14; Mobile; rv:131.0) Gecko/131.0 Firefox/131.0": 2,
}
TABLET_AGENTS = {
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Mobile/15E148 Safari/604.1": 5,
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36": 2,
}
# (width, height) of the screen per user agent list: the viewport is the width and the height
# less browser chrome.
DEVICE_SCREENS = [
    (DESKTOP_AGENTS, {(1920, 1080): 22, (1440, 900): 12, (1536, 864): 10, (1366, 768): 9, (2560, 1440): 5}),
    (MOBILE_AGENTS, {(390, 844): 14, (412, 915): 8, (414, 896): 7, (375, 667): 5}),
    (TABLET_AGENTS, {(768, 1024): 4, (820, 1180): 2}),
]
DEVICE_WEIGHTS = [58, 36, 6]


@dataclass(frozen=True)
class Page:
    path: str
    weight: int  # how often it is visited next
    entry_weight: int  # how often a session lands on it
    height: float  # page height in viewport widths
    hot_spots: tuple[tuple[float, float], ...]  # click targets as (x, y) in viewport widths
    custom_events: tuple[tuple[str, float, dict], ...] = ()  # (type, probability, props)


NAV = ((0.55, 0.03), (0.65, 0.03), (0.75, 0.03), (0.9, 0.03))
BLOG_SLUGS = [f"/blog/post-{n}" for n in range(1, 13)]
PAGES = [
    Page("/", 10, 40, 3.0, (*NAV, (0.5, 0.32), (0.3, 0.9), (0.7, 0.9)), (("video_play", 0.06, {}),)),
    Page(
        "/pricing",
        8,
        6,
        2.0,
        (*NAV, (0.2, 0.55), (0.5, 0.55), (0.8, 0.55)),
        (("plan_selected", 0.25, {"plan": "pro"}), ("plan_selected", 0.08, {"plan": "team"})),
    ),
    Page("/features", 6, 5, 4.0, (*NAV, (0.5, 0.4), (0.5, 2.5)), ()),
    Page("/docs", 6, 8, 3.0, (*NAV, (0.12, 0.3), (0.12, 0.5), (0.12, 0.7)), ()),
    Page(
        "/docs/getting-started",
        5,
        6,
        5.0,
        (*NAV, (0.12, 0.4), (0.85, 0.6), (0.85, 1.4)),
        (("copy_code", 0.2, {"lang": "sh"}),),
    ),
    Page("/docs/api", 4, 3, 6.0, (*NAV, (0.12, 0.4), (0.85, 0.9)), (("copy_code", 0.15, {"lang": "js"}),)),
    Page("/blog", 4, 4, 3.0, (*NAV, (0.3, 0.4), (0.3, 0.8), (0.3, 1.2)), ()),
    *(Page(slug, 1, 2, 4.0, (*NAV, (0.5, 2.0), (0.5, 3.5)), (("outbound_click", 0.1, {}),)) for slug in BLOG_SLUGS),
    Page("/signup", 3, 2, 1.5, ((0.5, 0.3), (0.5, 0.4), (0.5, 0.55)), (("signup_completed", 0.35, {}),)),
    Page("/login", 2, 3, 1.0, ((0.5, 0.3), (0.5, 0.4), (0.5, 0.5)), ()),
    Page("/about", 2, 1, 2.0, (*NAV,), ()),
    Page("/changelog", 2, 1, 5.0, (*NAV,), ()),
]
CTA_EVENT = ("cta_click", 0.06, {"position": "header"})
BOUNCE_SHARE = 0.42
RETURNING_SHARE = 0.3
MAX_PAGE_VIEWS = 30
PILOT_SESSIONS = 5000
# Aim a little low: a shortfall is topped up, while an overshoot would leave the window's
# last hours empty.
PILOT_MARGIN = 1.03
RECEIVED_AFTER_US = 400_000


@dataclass
class Chunk:
    """Whole sessions as the write path takes them; events and samples name their session
    by its key, its position in `sessions`."""

    sessions: list[SessionRecord] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Totals:
    sessions: int
    events: int
    samples: int


class TrafficModel:
    def __init__(
        self, *, start: datetime, end: datetime, seed: int | None = None, samples_per_view: float = 4.0
    ) -> None:
        self.random = random.Random(seed)
        self.start, self.end = start, end
        self.samples_per_view = samples_per_view
        self.visitors: list[str] = []
        hours = max(1, int((end - start).total_seconds() // 3600))
        hour_weights = []
        for hour in range(hours):
            moment = start + timedelta(hours=hour)
            hour_weights.append(HOURLY[moment.hour] * WEEKDAY[moment.weekday()])
        self.hour_cum_weights = list(itertools.accumulate(hour_weights))
        self.entry_cum = list(itertools.accumulate(page.entry_weight for page in PAGES))
        self.next_cum = list(itertools.accumulate(page.weight for page in PAGES))
        self.referrers, self.referrer_cum = _cumulative(REFERRERS)
        self.languages, self.language_cum = _cumulative(LANGUAGES)
        self.devices = [(_cumulative(agents), _cumulative(screens)) for agents, screens in DEVICE_SCREENS]
        self.landing_queries, self.landing_cum = _cumulative(LANDING_QUERIES)
        self.addresses, self.address_cum = _cumulative(ADDRESSES)

    def _pick(self, values: list, cum_weights: list[int]):
        return self.random.choices(values, cum_weights=cum_weights)[0]

    def _visitor(self) -> str:
        if self.visitors and self.random.random() < RETURNING_SHARE:
            return self.random.choice(self.visitors)
        anon_id = f"v-{uuid.UUID(int=self.random.getrandbits(128)).hex[:20]}"
        self.visitors.append(anon_id)
        return anon_id

    def _session_starts(self, count: int) -> list[datetime]:
        """`count` session start times, in time order as ingest would have written them."""
        hours = self.random.choices(range(len(self.hour_cum_weights)), cum_weights=self.hour_cum_weights, k=count)
        offsets = sorted(hour * 3600 + self.random.random() * 3600 for hour in hours)
        return [self.start + timedelta(seconds=offset) for offset in offsets]

    def _events_per_session(self) -> float:
        """Measured on a trial run of the same model, to know how many sessions make `events`."""
        trial = TrafficModel(start=self.start, end=self.end, seed=self.random.random(), samples_per_view=0)
        chunk = Chunk()
        starts = trial._session_starts(PILOT_SESSIONS)
        written = sum(trial._add_session(chunk, start, budget=MAX_PAGE_VIEWS * 10) for start in starts)
        return max(1.0, written / PILOT_SESSIONS * PILOT_MARGIN)

    def _page_views(self) -> int:
        if self.random.random() < BOUNCE_SHARE:
            return 1
        return min(MAX_PAGE_VIEWS, 2 + int(self.random.expovariate(1 / 2.5)))

    def chunks(self, *, events: int, chunk_events: int = 20_000) -> Iterator[Chunk]:
        """Whole sessions in time order, in chunks of about chunk_events events, until `events`.

        The session count is estimated up front so the sessions spread over the whole window
        in order (a table filled by ingest is ordered by time, and the queries' costs depend
        on it); a shortfall is topped up with a second, smaller spread.
        """
        per_session = self._events_per_session()
        remaining = events
        chunk = Chunk()
        while remaining > 0:
            for start in self._session_starts(max(1, math.ceil(remaining / per_session))):
                remaining -= self._add_session(chunk, start, budget=remaining)
                if len(chunk.events) >= chunk_events:
                    yield _in_time_order(chunk)
                    chunk = Chunk()
                if remaining <= 0:
                    break
        if chunk.sessions:
            yield _in_time_order(chunk)

    def _add_session(self, chunk: Chunk, start: datetime, *, budget: int) -> int:
        rnd = self.random
        index = len(chunk.sessions)
        (agents, agent_cum), (screens, screen_cum) = rnd.choices(self.devices, weights=DEVICE_WEIGHTS)[0]
        width, height = self._pick(screens, screen_cum)
        viewport = (width, max(300, height - rnd.choice((80, 110, 140))))
        moment = start
        page = self._pick(PAGES, self.entry_cum)
        entry = page.path
        added = 0
        for view in range(self._page_views()):
            if moment >= self.end or added >= budget:
                break
            if view:
                page = self._pick(PAGES, self.next_cum)
            added += self._add_page(chunk, index, page, moment, viewport, budget - added)
            moment += timedelta(seconds=3 + rnd.expovariate(1 / 50))
        if not added:
            return 0
        session = SessionInput(
            # Not from the seed: a second run into the same project must not reuse ids.
            session_id=f"s-{uuid.uuid4().hex}",
            anon_id=self._visitor(),
            referrer=self._pick(self.referrers, self.referrer_cum),
            language=self._pick(self.languages, self.language_cum),
            screen_width=width,
            screen_height=height,
            landing_url=f"{SITE}{entry}{self._pick(self.landing_queries, self.landing_cum)}",
        )
        chunk.sessions.append(
            services.session_record(
                key=index,
                session=session,
                user_agent=self._pick(agents, agent_cum),
                client_address=self._pick(self.addresses, self.address_cum),
                own_origins=frozenset(),
                # As if the session's one batch arrived just after its last event.
                seen_us=epoch_us(min(moment, self.end)) + RECEIVED_AFTER_US,
            )
        )
        return added

    def _add_page(self, chunk: Chunk, session: int, page: Page, moment: datetime, viewport: tuple, budget: int) -> int:
        rnd = self.random
        chunk.events.append(_event(session, "page_view", page.path, {}, moment))
        added = 1
        for event_type, probability, props in (*page.custom_events, CTA_EVENT):
            if added < budget and rnd.random() < probability:
                at = moment + timedelta(seconds=rnd.uniform(2, 40))
                chunk.events.append(_event(session, event_type, page.path, props, at))
                added += 1
        self._add_movement(chunk, session, page, moment, viewport)
        return added

    def _add_movement(self, chunk: Chunk, session: int, page: Page, moment: datetime, viewport: tuple) -> None:
        rnd = self.random
        vw, vh = viewport
        page_px = max(vh, int(page.height * vw))
        # Most readers leave within the first screens; the deepest scroll is what counts.
        depth = min(page_px, int(vh + rnd.random() ** 1.8 * (page_px - vh)))
        samples = max(0, int(rnd.gauss(self.samples_per_view, 1.5)))
        if samples:
            scrolled = _sample(session, moment + timedelta(seconds=1), 0, depth - vh, "scroll", page, viewport)
            chunk.samples.append(scrolled)
        for n in range(1, samples):
            spot_x, spot_y = rnd.choice(page.hot_spots)
            at = moment + timedelta(seconds=1 + n * rnd.uniform(0.5, 3))
            if rnd.random() < 0.3:
                x = rnd.gauss(spot_x, 0.015) * vw
                y = rnd.gauss(spot_y, 0.01) * vw
                kind = "click"
            else:
                x = rnd.gauss(spot_x, 0.12) * vw
                y = min(depth, rnd.gauss(spot_y, 0.25) * vw)
                kind = "move"
            x = min(vw - 1, max(0, int(x)))
            # Reflected at the top edge, so that spots near it do not pile up in the first row.
            chunk.samples.append(_sample(session, at, x, abs(int(y)), kind, page, viewport))


def _event(session: int, event_type: str, path: str, props: dict, moment: datetime) -> dict:
    return {
        "session_key": session,
        "client_id": None,
        "type": event_type,
        "path": path,
        "props": props,
        "occurred_us": epoch_us(moment),
    }


def _sample(session: int, moment: datetime, x: int, y: int, kind: str, page: Page, viewport: tuple) -> dict:
    return {
        "session_key": session,
        "occurred_us": epoch_us(moment),
        "x": x,
        "y": y,
        "kind": kind,
        "path": page.path,
        "viewport_width": viewport[0],
        "viewport_height": viewport[1],
    }


def _in_time_order(chunk: Chunk) -> Chunk:
    chunk.events.sort(key=lambda event: event["occurred_us"])
    chunk.samples.sort(key=lambda sample: sample["occurred_us"])
    return chunk


def _cumulative(weights: dict) -> tuple[list, list[int]]:
    return list(weights), list(itertools.accumulate(weights.values()))


COMPACT_EVERY_EVENTS = 200_000
ANALYZED_AFTER_WRITING = (
    statements.SESSIONS,
    statements.EVENTS,
    statements.SAMPLES,
    statements.SESSION_HOURS,
    statements.HOURLY_COUNTS,
)


def generate_traffic(
    *,
    project_id: uuid.UUID,
    start: datetime,
    end: datetime,
    events: int,
    seed: int | None = None,
    samples_per_view: float = 4.0,
) -> Totals:
    """Writes about `events` events (exactly, unless the range ends first) with their sessions
    and movement samples through the write path, a statement per chunk, folding the
    dashboard's hourly counts as it goes."""
    # Past days get their own partitions, as live traffic would have had, instead of piling
    # into the default partition where retention cannot drop them.
    partitions.ensure_partitions(start=start.date(), days=(end.date() - start.date()).days + 1)
    model = TrafficModel(start=start, end=end, seed=seed, samples_per_view=samples_per_view)
    sessions = written_events = samples = 0
    compacted_at = 0
    for chunk in model.chunks(events=events):
        services.store(
            project_id=project_id,
            sessions=chunk.sessions,
            events=chunk.events,
            movement=chunk.samples,
            received_at=timezone.now(),
        )
        sessions += len(chunk.sessions)
        written_events += len(chunk.events)
        samples += len(chunk.samples)
        logger.info("generate_traffic: %d events, %d sessions written", written_events, sessions)
        # As the beat schedule does for live traffic: millions of count rows folded only at the
        # end would leave the per-batch table bloated, and every dashboard read scans it.
        if written_events - compacted_at >= COMPACT_EVERY_EVENTS:
            services.compact_hourly_counts()
            compacted_at = written_events
    services.compact_hourly_counts()
    # Fresh statistics for what was written: the sealing that follows plans its aggregation on
    # them, and without them (autovacuum not there yet, or off) a day took a minute, not 1 s.
    with connection.cursor() as cursor:
        for table in ANALYZED_AFTER_WRITING:
            cursor.execute(f"ANALYZE {table}")
    return Totals(sessions=sessions, events=written_events, samples=samples)
