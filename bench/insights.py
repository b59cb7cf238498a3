"""Time the dashboard's queries on the configured database (docs/performance.md).

    DATABASE_URL=postgres://... .venv/bin/python bench/insights.py PROJECT [--runs 5] [--filter browser=Chrome]

Runs every selector the dashboard and GET /stats call, plus the click and move heatmaps and
the scroll depth of the home page (--only heatmap --only scroll: those alone), for today,
the last 7 and the last 30 days (days of the project's time zone) and the 7 days up to now;
prints one line per query and range with the median, fastest and slowest of the warm runs
(one cold run first).
With --filter (repeatable, the stats' query parameters), the stats queries count only the
matching sessions, as the filtered dashboard does; heatmaps are never filtered.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics.settings")

import django

django.setup()

from django.http import QueryDict  # noqa: E402

from insights import heatmaps, selectors  # noqa: E402
from insights.filters import parse_filters  # noqa: E402
from insights.time_ranges import Interval, TimeRange, last_days  # noqa: E402
from projects.selectors import get_project_by_id_or_name  # noqa: E402


def _timed(call, runs: int) -> list[float]:
    call()
    spent = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        spent.append(time.perf_counter() - started)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--path", default="/")
    parser.add_argument("--filter", action="append", default=[], help="a stats filter, such as browser=Chrome")
    parser.add_argument("--only", action="append", default=[], help="time only the queries whose name holds this")
    args = parser.parse_args()
    project = get_project_by_id_or_name(ref=args.project)
    filters = parse_filters(QueryDict("&".join(args.filter)))
    now = datetime.now(UTC)
    zone = project.time_zone

    # Whole days of the project's zone as the dashboard asks for them, and a range that ends
    # now, whose partial first and last hours are read from raw events.
    ranges = {
        "today": last_days(days=1, now=now, time_zone=zone),
        "7 days": last_days(days=7, now=now, time_zone=zone),
        "30 days": last_days(days=30, now=now, time_zone=zone),
        "7 days to now": TimeRange(start=now - timedelta(days=7), end=now, time_zone=zone),
    }
    for label, time_range in ranges.items():
        scope = {"project_id": project.id, "time_range": time_range}
        filtered = {**scope, "filters": filters}
        interval = Interval.HOUR if time_range.duration <= timedelta(days=1, hours=1) else Interval.DAY
        queries = {
            "traffic_stats (all)": partial(selectors.traffic_stats, **filtered, interval=interval),
            "session_rollup": partial(selectors.session_rollup, **filtered),
            "session_totals": partial(selectors.session_totals, **filtered),
            "session_pages_and_durations": partial(selectors.session_pages_and_durations, **filtered),
            "traffic_series": partial(selectors.traffic_series, **filtered, interval=interval),
            "top_paths": partial(selectors.top_paths, **filtered),
            "top_event_types": partial(selectors.top_event_types, **filtered),
            "click heatmap": partial(
                heatmaps.movement_heatmap, **scope, path=args.path, kind=heatmaps.HeatmapKind.CLICK
            ),
            "move heatmap": partial(heatmaps.movement_heatmap, **scope, path=args.path, kind=heatmaps.HeatmapKind.MOVE),
            "scroll depth": partial(heatmaps.scroll_depth, **scope, path=args.path),
        }
        if args.only:
            queries = {name: call for name, call in queries.items() if any(word in name for word in args.only)}
        for name, call in queries.items():
            spent = _timed(call, args.runs)
            print(
                f"{label:14} {name:27} median {statistics.median(spent):6.3f} s  "
                f"range {min(spent):6.3f}..{max(spent):6.3f} s  ({args.runs} warm runs)",
                flush=True,
            )


if __name__ == "__main__":
    main()
