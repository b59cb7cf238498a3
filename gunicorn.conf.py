"""gunicorn settings; each can be overridden on the command line or by environment."""

import gc
import multiprocessing
import os

from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics.settings")

# PORT as the settings read it (the environment, else .env), so a .env of the original service
# binds where it says; `make run` sets BIND_HOST to keep the development server on loopback.
bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{settings.PORT}"
# Each worker reads requests in an event loop and runs the application only on whole ones, so
# clients that send slowly hold a socket, not a worker (analytics/serving.py).
worker_class = "analytics.serving.BufferingWorker"
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# The embedded default keeps its cache (key lookups, rate limits) inside the process, so it
# runs one process. With Redis the cache is shared and workers can multiply: two a core
# measured best on 2 cores next to Postgres and Redis (bench/run.py); more only add CPU
# contention with the database.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2)) if settings.REDIS_URL else 1
# In-flight requests get this long to finish on SIGTERM before workers are killed.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Idle keep-alive connections are closed after this many seconds.
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
# Request lines hold keys (DELETE /v1/projects/:id/keys/:key): they are cut down before writing.
logger_class = "analytics.logs.GunicornLogger"


def post_worker_init(worker) -> None:
    # What the worker has loaded lives as long as it does. Frozen, it is left out of the
    # collector's full passes, which otherwise walk about 140,000 objects (a 65 ms pause
    # every 1,500 or so requests, landing on whichever request is running).
    from django.urls import resolve

    resolve("/v1/ingest")  # imports the URL configuration and the views now, not on first use
    from ingest import enrichment

    enrichment.load_data_sets()  # the User-Agent rules take 0.2 s to load: not on a request
    gc.collect()
    gc.freeze()
