"""Heatmaps and scroll depth over sealed days give the answers of the raw samples: sealed UTC
days read from their binned counts, the rest of the range from raw samples; a session whose
samples fall on several days counted once; a day that changed after sealing never read from
its bins. The raw answers are computed here in plain Python from the sample rows."""

import random
from collections import Counter
from datetime import timedelta

import pytest

from ingest import services, statements
from ingest.models import MovementSample, SealedDay, SealedDayCell, SealedDayScroll, SealedDayScrollSession, Session
from ingest.tests.factories import at, ms
from insights import heatmaps
from insights.tests.test_sealed_days import DAYS, LATER, ORIGIN, random_range
from insights.time_ranges import TimeRange

pytestmark = pytest.mark.django_db

RECEIVED = at("2025-03-20 00:00")
PATHS = ["/", "/pricing", "/docs"]
VIEWPORTS = [(390, 844), (1000, 800), (1440, 900), (None, 800), (1280, None)]


def send_samples(project, session_id: str, samples: list[dict], *, anon_id: str = "a", page_view: bool = True) -> None:
    """One batch through the ingest service: the samples, {kind, x, y, path, vw, vh, when},
    after a page view at the first one's time (so that its day has traffic to seal) unless
    `page_view` is false."""
    first = min(sample["when"] for sample in samples)
    payload = {
        "session": {"sessionId": session_id, "anonId": anon_id},
        "events": [{"type": "page_view", "path": samples[0]["path"], "ts": ms(first)}] if page_view else [],
        "movement": [
            {
                "kind": sample["kind"],
                "x": sample["x"],
                "y": sample["y"],
                "path": sample["path"],
                "vw": sample["vw"],
                "vh": sample["vh"],
                "ts": ms(sample["when"]),
            }
            for sample in samples
        ],
    }
    services.ingest_batch(
        project_id=project.id, payload=payload, received_at=RECEIVED, user_agent="", client_address=""
    )


def random_samples(rng: random.Random, start, count: int) -> list[dict]:
    vw, vh = rng.choice(VIEWPORTS)
    path = rng.choice(PATHS)
    samples = []
    for _ in range(count):
        moment = start + timedelta(seconds=rng.randrange(2 * 3600), microseconds=rng.randrange(10**6))
        width = vw or 1000
        samples.append(
            {
                "kind": rng.choice(["click", "move", "move", "scroll"]),
                "x": rng.randrange(width + 50),
                "y": rng.randrange(12 * width),
                "path": path if rng.random() < 0.8 else rng.choice(PATHS),
                "vw": vw,
                "vh": vh,
                "when": moment.isoformat(sep=" ")[:26],
            }
        )
    return samples


def send_traffic(rng: random.Random, project, *, sessions: int, first_id: int = 0) -> None:
    """Sessions of up to two hours, some across a midnight, in one to three batches."""
    for n in range(first_id, first_id + sessions):
        start = ORIGIN + timedelta(seconds=rng.randrange(DAYS * 86400))
        for _batch in range(rng.randint(1, 3)):
            send_samples(project, f"visit{n}", random_samples(rng, start, rng.randint(1, 12)), anon_id=f"a{n % 7}")


def raw_samples(project, path: str, kind: str, time_range: TimeRange):
    return MovementSample.objects.filter(
        project=project, path=path, kind=kind, occurred_at__gte=time_range.start, occurred_at__lt=time_range.end
    )


def raw_heatmap(project, path: str, kind: str, time_range: TimeRange) -> list[tuple[int, int, int]]:
    cells = Counter()
    for x, y, vw in raw_samples(project, path, kind, time_range).values_list("x", "y", "viewport_width"):
        if not vw or y < 0 or not 0 <= x < vw or y * heatmaps.COLUMNS // vw >= statements.ROWS:
            continue
        cells[x * heatmaps.COLUMNS // vw, y * heatmaps.COLUMNS // vw] += 1
    return sorted(((column, row, count) for (column, row), count in cells.items()), key=lambda c: (c[1], c[0]))


def raw_scroll_depth(project, path: str, time_range: TimeRange) -> heatmaps.ScrollDepth:
    depths: dict[int, int] = {}
    rows = raw_samples(project, path, "scroll", time_range).values_list(
        "session_id", "y", "viewport_width", "viewport_height"
    )
    for session, y, vw, vh in rows:
        if not vw or y < 0 or vh is None:
            continue
        depths[session] = max(depths.get(session, 0), (y + vh) * heatmaps.REFERENCE_WIDTH // vw)
    if not depths:
        return heatmaps.ScrollDepth(sessions=0, steps=[])
    steps = []
    for depth in range(heatmaps.SCROLL_STEP, heatmaps.MAX_DEPTH + 1, heatmaps.SCROLL_STEP):
        reached = sum(1 for deepest in depths.values() if deepest >= depth)
        steps.append(heatmaps.ScrollStep(depth=depth, sessions=reached, share=reached / len(depths)))
        if not reached:
            break
    return heatmaps.ScrollDepth(sessions=len(depths), steps=steps)


def compare_ranges(rng: random.Random, project, *, ranges: int) -> None:
    for time_range in [TimeRange(start=ORIGIN - timedelta(days=1), end=ORIGIN + timedelta(days=DAYS + 1))] + [
        random_range(rng) for _ in range(ranges)
    ]:
        for path in PATHS:
            for kind in heatmaps.HeatmapKind:
                found = heatmaps.movement_heatmap(project_id=project.id, path=path, kind=kind, time_range=time_range)
                expected = raw_heatmap(project, path, kind, time_range)
                assert [(cell.column, cell.row, cell.count) for cell in found.bins] == expected, (time_range, kind)
            found = heatmaps.scroll_depth(project_id=project.id, path=path, time_range=time_range)
            assert found == raw_scroll_depth(project, path, time_range), (time_range, path)


def sealed_days(project) -> set:
    return set(SealedDay.objects.filter(project=project, stale=False).values_list("day", flat=True))


def test_sealed_days_give_the_heatmaps_of_the_raw_samples(tenant, other_tenant):
    """Random samples over four days, sealed; then late samples into sealed days, an erased
    visitor, days sealed again: random ranges against the raw rows at every step."""
    rng = random.Random(5)
    project = tenant.project
    send_traffic(rng, project, sessions=60)
    send_traffic(rng, other_tenant.project, sessions=10, first_id=1000)
    compare_ranges(rng, project, ranges=6)

    services.seal_due_days(now=LATER)
    assert len(sealed_days(project)) >= DAYS
    assert SealedDayCell.objects.filter(project=project).exists()
    assert SealedDayScroll.objects.filter(project=project).exists()
    crossing = Session.objects.filter(project=project, samples_span_days=True)
    assert crossing.exists(), "some sessions' samples cross a midnight"
    assert set(SealedDayScrollSession.objects.filter(project=project).values_list("session_id", flat=True)) <= set(
        crossing.values_list("id", flat=True)
    )
    compare_ranges(rng, project, ranges=25)

    # Late samples: into sealed days, for sessions already there and for new ones.
    send_traffic(rng, project, sessions=5, first_id=60)
    send_samples(project, "visit3", random_samples(rng, ORIGIN + timedelta(days=1, hours=5), 6), anon_id="a3")
    assert SealedDay.objects.filter(project=project, stale=True).exists()
    compare_ranges(rng, project, ranges=12)

    # An erased visitor: the days of their samples go stale.
    services.seal_due_days(now=LATER, project_id=project.id)
    assert not SealedDay.objects.filter(project=project, stale=True).exists()
    erased = services.erase_visitor_data(project_id=project.id, anon_id="a2")
    assert erased.movement > 0
    assert SealedDay.objects.filter(project=project, stale=True).exists()
    compare_ranges(rng, project, ranges=12)

    services.seal_due_days(now=LATER, project_id=project.id)
    compare_ranges(rng, project, ranges=20)


def scroll(y: int, when: str) -> dict:
    return {"kind": "scroll", "x": 0, "y": y, "path": "/", "vw": 1000, "vh": 1000, "when": when}


def test_a_session_whose_samples_gain_a_day_counts_once_at_its_deepest(tenant):
    project = tenant.project
    two_days = TimeRange(start=at("2025-03-10 00:00"), end=at("2025-03-12 00:00"))
    send_samples(project, "s", [scroll(3000, "2025-03-10 22:00")])
    send_samples(project, "other", [scroll(0, "2025-03-11 09:00")])
    services.seal_due_days(now=LATER)
    assert sealed_days(project) == {at("2025-03-10").date(), at("2025-03-11").date()}
    assert not Session.objects.get(session_id="s").samples_span_days

    # The session scrolls again, less deep, the next day: its first day goes stale.
    send_samples(project, "s", [scroll(1000, "2025-03-11 08:00")], page_view=False)
    assert Session.objects.get(session_id="s").samples_span_days
    assert sealed_days(project) == set()
    services.seal_due_days(now=LATER)
    assert sealed_days(project) == {at("2025-03-10").date(), at("2025-03-11").date()}
    assert sorted(SealedDayScrollSession.objects.values_list("day", "depth")) == [
        (at("2025-03-10").date(), 4000),
        (at("2025-03-11").date(), 2000),
    ]
    depth = heatmaps.scroll_depth(project_id=project.id, path="/", time_range=two_days)
    assert depth.sessions == 2
    assert [(step.depth, step.sessions) for step in depth.steps[:5]] == [
        (250, 2),
        (500, 2),
        (750, 2),
        (1000, 2),
        (1250, 1),
    ]
    assert [(step.depth, step.sessions) for step in depth.steps[-2:]] == [(4000, 1), (4250, 0)]
    one_day = heatmaps.scroll_depth(
        project_id=project.id, path="/", time_range=TimeRange(start=at("2025-03-11 00:00"), end=at("2025-03-12 00:00"))
    )
    assert (one_day.sessions, one_day.steps[-1]) == (2, heatmaps.ScrollStep(depth=2250, sessions=0, share=0))


def test_a_late_sample_is_counted_at_once(tenant, admin_api):
    project = tenant.project
    click = {"kind": "click", "x": 500, "y": 300, "path": "/", "vw": 1000, "vh": 800, "when": "2025-03-10 12:00"}
    send_samples(project, "s", [click])
    services.seal_due_days(now=LATER)
    query = {"from": "2025-03-10", "to": "2025-03-10", "path": "/"}
    assert admin_api.get(f"/v1/projects/{project.id}/heatmap", query).json()["bins"] == [[25, 15, 1]]

    send_samples(project, "t", [{**click, "when": "2025-03-10 18:00"}], page_view=False)
    assert admin_api.get(f"/v1/projects/{project.id}/heatmap", query).json()["bins"] == [[25, 15, 2]]
    services.seal_due_days(now=LATER)
    assert SealedDayCell.objects.get(project=project).samples == 2
    assert admin_api.get(f"/v1/projects/{project.id}/heatmap", query).json()["bins"] == [[25, 15, 2]]
