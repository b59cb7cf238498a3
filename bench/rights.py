"""Time visitor erasure and measure export throughput and memory (docs/performance.md).

    DATABASE_URL=postgres://... .venv/bin/python bench/rights.py PROJECT [--visitors 20] [--kind events]

Erases `--visitors` visitors of the project picked at random among its sessions (one
transaction each, as the API does) and prints the median and slowest erasure with the rows
they removed. Then exports the project's last 30 days of `--kind` as CSV and as NDJSON
through GET /v1/.../export (the Django test client, in this process) into nothing, and
prints rows/s and the growth of the process's peak resident memory over the export.
Erasure deletes data: run it on a project of generated traffic.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from ingest.models import Session  # noqa: E402
from projects.selectors import get_project_by_id_or_name  # noqa: E402
from rights.services import erase_visitor  # noqa: E402


def peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def bench_erasure(project, visitors: int) -> None:
    anon_ids = list(Session.objects.filter(project=project).values_list("anon_id", flat=True)[:50_000])
    picked = random.Random(1).sample(sorted(set(anon_ids)), visitors)
    spent, events = [], 0
    for anon_id in picked:
        started = time.perf_counter()
        erased = erase_visitor(project=project, anon_id=anon_id, actor="bench")
        spent.append(time.perf_counter() - started)
        events += erased.events
    print(
        f"erasure: {visitors} visitors, {events} events in all; median {statistics.median(spent) * 1000:.1f} ms, "
        f"slowest {max(spent) * 1000:.1f} ms"
    )


def bench_export(project, kind: str) -> None:
    settings.ADMIN_API_KEY = settings.ADMIN_API_KEY or "bench-admin-key"
    client = Client(headers={"x-admin-key": settings.ADMIN_API_KEY})
    for output in ("csv", "ndjson"):
        base = f"/v1/projects/{project.id}/export?kind={kind}&format={output}"
        # Warm: imports, connection, the view's first answer.
        b"".join(client.get(base + "&from=2000-01-01&to=2000-01-02").streaming_content)
        before, started = peak_kb(), time.perf_counter()
        response = client.get(base + "&from=" + (timezone.now() - timedelta(days=30)).date().isoformat())
        rows = size = 0
        for piece in response.streaming_content:
            rows += piece.count(b"\n")
            size += len(piece)
        spent = time.perf_counter() - started
        print(
            f"export {kind} {output}: {rows:,} lines, {size / 1e6:,.0f} MB in {spent:.1f} s "
            f"= {rows / spent:,.0f} rows/s; "
            f"peak RSS {before // 1024} MB before, grew by {(peak_kb() - before) // 1024} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project")
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--kind", default="events")
    args = parser.parse_args()
    project = get_project_by_id_or_name(ref=args.project)
    bench_export(project, args.kind)
    bench_erasure(project, args.visitors)


if __name__ == "__main__":
    main()
