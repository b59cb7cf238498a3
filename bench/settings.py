"""The service's settings plus the benchmark's no-op endpoint (bench.urls)."""

from analytics.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
