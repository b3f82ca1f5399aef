"""TheTool settings.

Every knob is an environment variable with a default that works on a fresh clone
(SQLite + django-q2's ORM broker). Production differs only by environment; `.env.example`
lists every variable. Malformed values stop start-up with a message naming the variable.
"""

import os
from datetime import date
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env file is optional; real environment variables always win.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _typed(name, cast, default):
    """Read one variable, naming it when its value is malformed."""
    try:
        return cast(name, default=default)
    except (ValueError, TypeError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"Environment variable {name} is malformed: {exc}") from exc


def env_bool(name, default):
    raw = env.str(name, default=None)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"Environment variable {name} must be a boolean (true/false), got {raw!r}")


def env_int(name, default, *, minimum=None):
    value = _typed(name, env.int, default)
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"Environment variable {name} must be >= {minimum}, got {value}")
    return value


def env_float(name, default, *, minimum=None):
    value = _typed(name, env.float, default)
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"Environment variable {name} must be >= {minimum}, got {value}")
    return value


def env_rate(name, default):
    """A DRF throttle rate: N/s, N/min, N/hour or N/day (DRF reads only the period's first letter)."""
    value = env.str(name, default=default).strip()
    count, _, period = value.partition("/")
    if not (count.isdigit() and period in {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}):
        raise ImproperlyConfigured(
            f"Environment variable {name} must look like 30/min (N/s|min|hour|day), got {value!r}"
        )
    return value


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Environment variable DJANGO_SECRET_KEY is required when DJANGO_DEBUG is false")
    SECRET_KEY = "insecure-development-key-only-for-DJANGO_DEBUG-true"

ALLOWED_HOSTS = _typed("DJANGO_ALLOWED_HOSTS", env.list, ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = _typed("DJANGO_CSRF_TRUSTED_ORIGINS", env.list, [])

# --- Who may use it -------------------------------------------------------------------------
# Open access (no sign-in) is for the single-user laptop: on by default only while debugging,
# which is what `make run` on a fresh clone does. Production (DJANGO_DEBUG=false) always requires
# sign-in: anyone who can reach an open port could otherwise start jobs.
THETOOL_OPEN_ACCESS = env_bool("THETOOL_OPEN_ACCESS", DEBUG)
if THETOOL_OPEN_ACCESS and not DEBUG:
    raise ImproperlyConfigured(
        "Environment variable THETOOL_OPEN_ACCESS cannot be true when DJANGO_DEBUG is false "
        "(production requires sign-in)"
    )
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "stock-list"
LOGOUT_REDIRECT_URL = "stock-list"

# --- Production hardening (behind a TLS-terminating proxy) ----------------------------------
# Each is on when not debugging, so `manage.py check --deploy` is clean with the production env.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only behind a proxy that sets this header itself (and strips it from clients): "HTTP_X_FORWARDED_PROTO,https".
_proxy_header = _typed("DJANGO_SECURE_PROXY_SSL_HEADER", env.list, [])
if _proxy_header and len(_proxy_header) != 2:
    raise ImproperlyConfigured("Environment variable DJANGO_SECURE_PROXY_SSL_HEADER must be HEADER,value")
SECURE_PROXY_SSL_HEADER = tuple(_proxy_header) or None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files, not a CDN
    "django_q",
    "stocks",
    "jobs",
    "accounts",
    "alerts",
    "watchlists",
    "backtests",
]

MIDDLEWARE = [
    # First, so every log line of the request (other middleware included) carries its id.
    "thetool.logs.RequestIdMiddleware",
    # Outside CommonMiddleware (a refused Host) and URL resolution: DEBUG's HTML 400/404 become JSON under /api/.
    "thetool.middleware.DebugApiErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before sessions and CSRF: refuse oversized bodies, NUL characters and too many fields first.
    "thetool.middleware.RefuseBadInputMiddleware",
    # A database or broker outage in any view or page is a 503 with Retry-After, never a 500.
    "thetool.middleware.AnswerOutagesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.SignInRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "thetool.middleware.UTCForAPIMiddleware",
    # Last, so it times the view alone and sees the resolved URL name.
    "jobs.metrics.JobApiLatencyMiddleware",
]

ROOT_URLCONF = "thetool.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.access",
                "watchlists.context_processors.my_watchlists",
            ],
        },
    },
]

WSGI_APPLICATION = "thetool.wsgi.application"

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
try:
    _db = environ.Env.db_url_config(DATABASE_URL)
except (ValueError, KeyError, ImproperlyConfigured) as exc:
    raise ImproperlyConfigured(f"Environment variable DATABASE_URL is malformed: {exc}") from exc

# A new connection per request, task and broker poll costs more than the work itself: keep them. On
# SQLite too: django-q2 closes obsolete connections before every task and every poll of the ORM broker,
# and opening one (Django registers its SQL functions, then the PRAGMAs below) cost an idle cluster 7% of
# a CPU at a 0.05 s poll.
_db["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Web and qcluster write concurrently. IMMEDIATE takes the write lock at BEGIN so a
    # transaction never upgrades a read lock mid-way (the source of instant "database is
    # locked"); WAL lets readers proceed during a write; busy_timeout makes writers queue.
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }
    # Tests use a file (not :memory:) so a qcluster subprocess can share it; one per test process.
    _db.setdefault("TEST", {})["NAME"] = env.str(
        "THETOOL_SQLITE_TEST_NAME", default=str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")
    )
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db["CONN_HEALTH_CHECKS"] = True
    # A test database per run, so two runs on one server never collide (and never drop each other's).
    _db.setdefault("TEST", {})["NAME"] = env.str(
        "THETOOL_POSTGRES_TEST_NAME", default=f"test_{_db['NAME']}_{os.getpid()}"
    )
else:
    raise ImproperlyConfigured(f"Environment variable DATABASE_URL names an unsupported database: {_db['ENGINE']}")
DATABASES = {"default": _db}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Time: UTC in the database, Asia/Kolkata wherever a person reads it ---------------------
LANGUAGE_CODE = "en-us"
USE_TZ = True
TIME_ZONE = "Asia/Kolkata"
USE_I18N = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Request limits: beyond them a request is refused (413/400) before any view runs ----------
# Bytes of body (not counting multipart files); a 5,000-symbol job request is about 100 kB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env_int("DJANGO_DATA_UPLOAD_MAX_NUMBER_FIELDS", 1000, minimum=10)

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # JSON only (the browsable API's raw-data form posts JSON too): a form or multipart body is a 415.
    "DEFAULT_PARSER_CLASSES": ["thetool.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "thetool.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Token first, so an anonymous API call is told how to authenticate (401 + WWW-Authenticate).
    # Session keeps the browsable API usable, and enforces CSRF on its unsafe requests.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.access.SignedInOrOpenAccess"],
    "DEFAULT_THROTTLE_CLASSES": ["jobs.throttles.ReadThrottle"],
    # Proxies in front that append to X-Forwarded-For. 0: the client's address is REMOTE_ADDR, so a
    # client cannot pick a fresh anonymous limit by sending its own X-Forwarded-For.
    "NUM_PROXIES": env_int("THETOOL_NUM_PROXIES", 0, minimum=0),
    # Requests per period (s, m, h, d). Job creation is charged only when a job is created:
    # a duplicate answer costs nothing (jobs/throttles.py).
    "DEFAULT_THROTTLE_RATES": {
        "job_create_user": env_rate("THETOOL_THROTTLE_JOB_CREATE_USER", "30/min"),
        "job_create_anon": env_rate("THETOOL_THROTTLE_JOB_CREATE_ANON", "20/min"),
        "job_heavy": env_rate("THETOOL_THROTTLE_JOB_HEAVY", "10/hour"),
        "api_read": env_rate("THETOOL_THROTTLE_READ", "1200/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TheTool API",
    "DESCRIPTION": (
        "Technical analysis of NSE stocks in background jobs that are never duplicated. "
        'Every error has the shape {"error": {"code", "message", "details"}}.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["accounts.access.SignedInOrOpenAccess"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Two models have a `status` field with different choices: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.JobStatus",
        "AlertDeliveryStatusEnum": "alerts.models.DeliveryStatus",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "thetool.schema.document_retry_after"],
    # /api/docs/ loads Swagger UI (pinned by drf-spectacular-sidecar in requirements.txt) from our own
    # static files: it works offline and runs no third-party script.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would send the schema's address to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- TheTool --------------------------------------------------------------------------------
_source = env.str("THETOOL_DATA_SOURCE", default="yfinance").strip()
if not (_source in {"yfinance", "demo"} or (_source.startswith("csv:") and len(_source) > 4)):
    raise ImproperlyConfigured(
        f"Environment variable THETOOL_DATA_SOURCE must be yfinance, demo or csv:DIR, got {_source!r}"
    )
THETOOL_DATA_SOURCE = _source
THETOOL_FETCH_TIMEOUT_SECONDS = env_float("THETOOL_FETCH_TIMEOUT_SECONDS", 20.0, minimum=1)
THETOOL_FETCH_CHUNK_SIZE = env_int("THETOOL_FETCH_CHUNK_SIZE", 100, minimum=1)
THETOOL_HISTORY_DAYS = env_int("THETOOL_HISTORY_DAYS", 730, minimum=300)
# Minutes after NSE's 15:30 IST close until Yahoo's bar of the session counts as final: bars fetched
# sooner are used (flagged "close not final") and fetched once more after this.
THETOOL_BAR_SETTLE_MINUTES = env_int("THETOOL_BAR_SETTLE_MINUTES", 30, minimum=0)
# yfinance's own timeouts do not bound a download (cookie/crumb fetches retry): our wall-clock limit does.
THETOOL_FETCH_WALL_CLOCK_SECONDS = env_float(
    "THETOOL_FETCH_WALL_CLOCK_SECONDS", max(3 * THETOOL_FETCH_TIMEOUT_SECONDS, 30.0), minimum=0.1
)
# A symbol Yahoo rate-limits is retried after backoff x 2**attempt (+ up to backoff of jitter), so the
# defaults wait 20, 40, 80 s: past Yahoo's one-minute window, ~2.5 min in all, then a per-symbol error.
THETOOL_RATE_LIMIT_RETRIES = env_int("THETOOL_RATE_LIMIT_RETRIES", 3, minimum=0)
THETOOL_RATE_LIMIT_BACKOFF_SECONDS = env_float("THETOOL_RATE_LIMIT_BACKOFF_SECONDS", 20.0, minimum=0)
# Shared by every worker and host (through CACHES: Redis when REDIS_URL is set, else the database).
THETOOL_YAHOO_REQUESTS_PER_MINUTE = env_int("THETOOL_YAHOO_REQUESTS_PER_MINUTE", 100, minimum=1)
THETOOL_YAHOO_CONCURRENCY = env_int("THETOOL_YAHOO_CONCURRENCY", 4, minimum=1)
THETOOL_NSE_EQUITY_LIST_URL = env.str(
    "THETOOL_NSE_EQUITY_LIST_URL", default="https://nsearchives.nseindia.com/content/equities/EQUITY_L.csv"
)
THETOOL_NSE_DOWNLOAD_TIMEOUT_SECONDS = env_float("THETOOL_NSE_DOWNLOAD_TIMEOUT_SECONDS", 10.0, minimum=1)
THETOOL_YFINANCE_CACHE_DIR = env.str("THETOOL_YFINANCE_CACHE_DIR", default=str(BASE_DIR / ".cache" / "yfinance"))

try:
    # NSE holidays announced after pandas-market-calendars' list ends (comma-separated ISO dates).
    THETOOL_NSE_EXTRA_HOLIDAYS = frozenset(
        date.fromisoformat(day.strip())
        for day in env.str("THETOOL_NSE_EXTRA_HOLIDAYS", default="").split(",")
        if day.strip()
    )
except ValueError as exc:
    raise ImproperlyConfigured(f"THETOOL_NSE_EXTRA_HOLIDAYS must be comma-separated YYYY-MM-DD dates ({exc})") from exc

THETOOL_DEDUP_WINDOW_SECONDS = env_int("THETOOL_DEDUP_WINDOW_SECONDS", 300, minimum=0)
THETOOL_JOB_CREATE_RETRIES = env_int("THETOOL_JOB_CREATE_RETRIES", 3, minimum=1)
THETOOL_JOB_CREATE_BACKOFF = env_float("THETOOL_JOB_CREATE_BACKOFF", 0.1, minimum=0)
# A job whose worker has not beaten for this long is stale (re-queued by the reaper, retired by a new request).
THETOOL_JOB_STALE_SECONDS = env_int("THETOOL_JOB_STALE_SECONDS", 60, minimum=1)
# Seconds between heartbeats while a job runs, also during a fetch (0: a quarter of the stale limit).
THETOOL_JOB_HEARTBEAT_SECONDS = env_float("THETOOL_JOB_HEARTBEAT_SECONDS", 0, minimum=0)
# How often `run_worker`'s reaper looks for stale jobs (outside the job queue, so a backlog cannot delay it).
THETOOL_REAPER_INTERVAL_SECONDS = env_float("THETOOL_REAPER_INTERVAL_SECONDS", 10.0, minimum=0.1)
# How long `run_worker` waits for its processes after SIGTERM/SIGINT before killing what is left.
THETOOL_WORKER_STOP_SECONDS = env_float("THETOOL_WORKER_STOP_SECONDS", 8.0, minimum=1)
# A `run_worker` counts as alive while its reaper thread wrote its registry row this recently (it writes
# every THETOOL_REAPER_INTERVAL_SECONDS).
THETOOL_WORKER_ALIVE_SECONDS = env_float("THETOOL_WORKER_ALIVE_SECONDS", 30.0, minimum=1)
THETOOL_JOB_MAX_ATTEMPTS = env_int("THETOOL_JOB_MAX_ATTEMPTS", 3, minimum=1)
THETOOL_JOB_BATCH_SIZE = env_int("THETOOL_JOB_BATCH_SIZE", 50, minimum=1)
# A job of more symbols is split into chunks of this size, one task each, so every worker helps.
THETOOL_JOB_CHUNK_SIZE = env_int("THETOOL_JOB_CHUNK_SIZE", 100, minimum=1)
# The job's last THETOOL_JOB_CHUNK_SIZE symbols go in this many smaller chunks, so workers end together; 1: off.
THETOOL_JOB_CHUNK_TAPER = env_int("THETOOL_JOB_CHUNK_TAPER", 4, minimum=1)
# A worker that ends a chunk claims the job's next queued one at once (no broker round trip) for this
# long, then returns to the queue so other tasks are not held back; 0: one chunk per task.
THETOOL_JOB_CONTINUE_SECONDS = env_float("THETOOL_JOB_CONTINUE_SECONDS", 60.0, minimum=0)
THETOOL_MAX_SYMBOLS_PER_JOB = env_int("THETOOL_MAX_SYMBOLS_PER_JOB", 5000, minimum=1)
# A backtest bucket with fewer completed trades than this is labelled "too few signals".
THETOOL_BACKTEST_MIN_SIGNALS = env_int("THETOOL_BACKTEST_MIN_SIGNALS", 30, minimum=1)
# How long an Idempotency-Key is remembered (and its first answer replayed), seconds.
THETOOL_IDEMPOTENCY_KEY_TTL_SECONDS = env_int("THETOOL_IDEMPOTENCY_KEY_TTL_SECONDS", 24 * 3600, minimum=60)
# Result retention (stocks.retention, run daily by a django-q2 schedule and by `manage.py thin_results`):
# every result for this many days, then the newest per stock, strategy and week or month.
THETOOL_RESULTS_KEEP_DAYS = env_int("THETOOL_RESULTS_KEEP_DAYS", 180, minimum=1)
THETOOL_RESULTS_THIN_TO = env.str("THETOOL_RESULTS_THIN_TO", default="week").strip().lower()
if THETOOL_RESULTS_THIN_TO not in ("week", "month"):
    raise ImproperlyConfigured(
        f"Environment variable THETOOL_RESULTS_THIN_TO must be week or month, got {THETOOL_RESULTS_THIN_TO!r}"
    )

# --- Alerts: email and signed webhooks ------------------------------------------------------
# Email goes through Django's email framework: printed to the console unless an SMTP server is set.
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.str("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="thetool@localhost")
# A failed send is retried after base, 2 x base, 4 x base, ... seconds, at most this many attempts in all.
THETOOL_ALERT_MAX_ATTEMPTS = env_int("THETOOL_ALERT_MAX_ATTEMPTS", 5, minimum=1)
THETOOL_ALERT_RETRY_BASE_SECONDS = env_int("THETOOL_ALERT_RETRY_BASE_SECONDS", 60, minimum=1)
THETOOL_ALERT_WEBHOOK_TIMEOUT_SECONDS = env_float("THETOOL_ALERT_WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.5)
# A worker holds a delivery this long; past it (the worker died mid-send) another worker may take it over.
# Longer than the webhook and email timeouts, so a slow but live send is never taken over.
THETOOL_ALERT_CLAIM_SECONDS = env_int("THETOOL_ALERT_CLAIM_SECONDS", 120, minimum=30)

# --- Cache: the API throttles' counters ----------------------------------------------------
# Shared by every web process (LocMemCache would count per process): Redis when configured,
# else a table in the database (created by a migration).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # MAX_ENTRIES: past it Django culls a third of the rows, which would reset live counters.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "thetool_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# --- Operations: probes, metrics --------------------------------------------------------------
# /readyz fails when no live worker's reaper finished a pass this recently (a worker younger than this
# has not had the time, and does not count against readiness).
THETOOL_READY_REAPER_MAX_AGE_SECONDS = env_int("THETOOL_READY_REAPER_MAX_AGE_SECONDS", 180, minimum=60)
# Bearer token for /metrics; empty: served only in DEBUG or to loopback addresses.
THETOOL_METRICS_TOKEN = env.str("THETOOL_METRICS_TOKEN", default="")

# --- django-q2 ------------------------------------------------------------------------------
Q_TIMEOUT = env_int("THETOOL_Q_TIMEOUT", 3600, minimum=1)
Q_CLUSTER = {
    # The queue's name: Redis keys are django_q:<name>:*, so two deployments (or test runs) sharing a
    # Redis server need different names. Every web and worker process of one deployment uses the same.
    "name": env.str("THETOOL_Q_CLUSTER_NAME", default="thetool"),
    "workers": env_int("THETOOL_Q_WORKERS", 2, minimum=1),
    # A job task may run this long; it must stay below `retry` or a running task is delivered again.
    "timeout": Q_TIMEOUT,
    "retry": env_int("THETOOL_Q_RETRY", Q_TIMEOUT + 300, minimum=2),
    # Crash recovery lives in the job table (heartbeat + reaper); redelivery is only a backstop.
    "max_attempts": env_int("THETOOL_Q_MAX_ATTEMPTS", 2, minimum=1),
    "recycle": 500,
    "save_limit": 1000,
    "ack_failures": True,
    "catch_up": False,
    "poll": env_float("THETOOL_Q_POLL", 0.2, minimum=0.05),
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Logging: one line per event, searchable by job id -------------------------------------
LOG_LEVEL = env.str("THETOOL_LOG_LEVEL", default="INFO").upper()
# plain: "time level logger message"; json: one object per line with request_id, user, job_id, attempt, counts.
THETOOL_LOG_FORMAT = env.str("THETOOL_LOG_FORMAT", default="plain").strip().lower()
if THETOOL_LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(
        f"Environment variable THETOOL_LOG_FORMAT must be plain or json, got {THETOOL_LOG_FORMAT!r}"
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "thetool.logs.RequestContextFilter"}},
    "formatters": {
        "plain": {
            "()": "thetool.logs.UTCFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {"()": "thetool.logs.JSONFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": THETOOL_LOG_FORMAT, "filters": ["request"]}
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "jobs": {"level": LOG_LEVEL},
        "alerts": {"level": LOG_LEVEL},
        "stocks": {"level": LOG_LEVEL},
        "watchlists": {"level": LOG_LEVEL},
        "thetool": {"level": LOG_LEVEL},
        "django-q": {"level": env.str("THETOOL_Q_LOG_LEVEL", default="INFO").upper()},
    },
}
