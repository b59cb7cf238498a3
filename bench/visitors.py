"""Measure the error of the estimated visitors count (docs/insights.md) on the configured database.

    DATABASE_URL=postgres://... .venv/bin/python bench/visitors.py PROJECT [--step-hours 6]

For every 7-day and 30-day range of UTC hours inside the project's session-hour rows (one
starting every --step-hours), compares the visitors of session_totals (estimated where the
range holds sealed days) with the exact count of distinct anonIds of the range's rows; prints
each range's relative error, then the largest and the root mean square.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Max, Min  # noqa: E402

from ingest.hours import ceil_hour, floor_hour  # noqa: E402
from ingest.models import SessionHour  # noqa: E402
from insights import selectors  # noqa: E402
from insights.time_ranges import TimeRange  # noqa: E402
from projects.selectors import get_project_by_id_or_name  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project")
    parser.add_argument("--step-hours", type=int, default=6)
    args = parser.parse_args()
    project = get_project_by_id_or_name(ref=args.project)
    span = SessionHour.objects.filter(project=project).aggregate(first=Min("hour"), last=Max("hour"))
    first, end = ceil_hour(span["first"]), floor_hour(span["last"]) + timedelta(hours=1)
    errors = []
    for days in (7, 30):
        start = first
        while start + timedelta(days=days) <= end:
            time_range = TimeRange(start=start, end=start + timedelta(days=days))
            found = selectors.session_totals(project_id=project.id, time_range=time_range)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(DISTINCT anon_id) FROM ingest_sessionhour WHERE project_id = %s AND hour >= %s "
                    "AND hour < %s",
                    [project.id, time_range.start, time_range.end],
                )
                exact = cursor.fetchone()[0]
            error = (found.visitors - exact) / exact
            if found.visitors_estimated:
                errors.append(error)
            print(
                f"{days:2} days from {start:%Y-%m-%d %H}h: exact {exact:,} found {found.visitors:,} "
                f"({'estimated' if found.visitors_estimated else 'exact'}) error {error:+.4%}",
                flush=True,
            )
            start += timedelta(hours=args.step_hours)
    if errors:
        rms = math.sqrt(sum(error * error for error in errors) / len(errors))
        largest = max(errors, key=abs)
        print(f"{len(errors)} estimated ranges: largest error {largest:+.4%}, root mean square {rms:.4%}")


if __name__ == "__main__":
    main()
