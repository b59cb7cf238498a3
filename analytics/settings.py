"""Settings, read from the environment (and from `.env` when it exists).

Without DATABASE_URL / REDIS_URL the service runs on the embedded default:
SQLite, Django's in-process cache and eager Celery, so it starts on a bare machine.
With DEBUG off, bad production configuration stops the process at start-up.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
PORT = env.int("PORT", default=3002)

# Service settings, named as in the original service's environment.
ADMIN_API_KEY = env.str("ADMIN_API_KEY", default="")
KEY_CACHE_TTL_S = env.int("KEY_CACHE_TTL_S", default=300)
RATE_LIMIT_PER_MIN = env.int("RATE_LIMIT_PER_MIN", default=600)
MAX_BODY_BYTES = env.int("MAX_BODY_BYTES", default=256 * 1024)
RETENTION_DAYS = env.int("RETENTION_DAYS", default=90)
RETENTION_SWEEP_INTERVAL_S = env.int("RETENTION_SWEEP_INTERVAL_S", default=3600)
# Addresses of reverse proxies whose X-Forwarded-For may name the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

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
    "projects",
    "ingest",
    "insights",
    "experiments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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
]

ROOT_URLCONF = "analytics.urls"
WSGI_APPLICATION = "analytics.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A bounded connect timeout: a dead database answers 503 fast instead of hanging workers.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
        # Prepared on first use, per connection. Only the ingest statement's server-binding
        # cursor can prepare (Django's cursors bind client-side), and planning that statement
        # costs Postgres more than running it. Off behind a pooler in transaction mode that
        # cannot keep prepared statements (PgBouncer before 1.21).
        if env.bool("DB_PREPARED_STATEMENTS", default=True):
            DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 0)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
        }
    }
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

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
    # Creates the day partitions of the event tables a week ahead (Postgres; no-op on SQLite).
    "maintain-partitions": {
        "task": "ingest.tasks.maintain_partitions",
        "schedule": 6 * 3600.0,
    },
    # Folds the per-batch rows of the dashboard's hourly counts into one per hour and key, so
    # that the dashboard sums a few rows per hour (Postgres; no-op on SQLite).
    "compact-hourly-counts": {
        "task": "ingest.tasks.compact_hourly_counts",
        "schedule": 60.0,
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
    "filters": {"redact": {"()": "analytics.logs.RedactSecrets"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
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
    if ADMIN_API_KEY and len(ADMIN_API_KEY) < 24:
        problems.append("ADMIN_API_KEY must be at least 24 characters")
    if not DATABASE_URL:
        problems.append("DATABASE_URL must point at Postgres (SQLite is the development default)")
    if not REDIS_URL:
        problems.append("REDIS_URL must point at Redis (the in-process cache is the development default)")
    if problems:
        raise ImproperlyConfigured("Production settings (DEBUG off): " + "; ".join(problems))
