"""Settings: the one place that reads the environment.

Every variable here is listed, with its default, in `.env.example`. Defaults are chosen so a
newcomer with nothing but Python gets a working system (SQLite, console e-mail, ORM task broker).
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"  # noqa: S105

SECRET_KEY: str = env.str("SECRET_KEY", default=_DEV_SECRET)
# Earlier keys still accepted when checking signatures (order-page links, sessions) after a
# rotation: put the old key here, remove it once its links have expired (docs/deploy.md).
SECRET_KEY_FALLBACKS: list[str] = env.list("SECRET_KEY_FALLBACKS", default=[])
DEBUG: bool = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base of links put into e-mails (the order page link).
SITE_URL: str = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "axes",
    "inventory",
    "orders",
    "compensation",
    "compensation.health",
]

MIDDLEWARE = [
    # First, so it counts every answer (redirects, static files, errors) for /metrics.
    "compensation.health.middleware.count_requests",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out staff login into a 429 page.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections: django-q's ORM broker calls close_old_connections() on every enqueue, so
# with the default of 0 each queued task (e.g. 1,000 delivery e-mails) opened a new connection.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web + task cluster) share the file: wait for the write lock instead of
    # failing at once, and use WAL so readers do not block the writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # PostgreSQL's JIT compiles the large CASE statements of bulk updates for seconds (measured:
    # 2.0 s instead of 0.2 s for 1,000 decisions); this is an OLTP app, it never pays off here.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# Production sets this: the rate limit then needs a cache shared by every process (a system
# check refuses local-memory, dummy and file caches, which count per process or not at all).
RATE_LIMIT_REQUIRE_SHARED_CACHE = False

# --- Staff login throttling (django-axes, failures kept in the database) -----------------------
# After this many failed logins for one username, or from one address, further logins (even
# with the right password) are refused for STAFF_LOGIN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT: int = env.int("STAFF_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("STAFF_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: per user, per address
AXES_RESET_ON_SUCCESS = True
# The same client address as the submission rate limit (honours RATE_LIMIT_TRUSTED_PROXIES).
AXES_CLIENT_IP_CALLABLE = "config.ratelimit.client_ip_or_none"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Working files (not configuration): demo status profiles and import uploads between preview
# and confirm (encrypted).
DEMO_PROFILES_PATH = BASE_DIR / "var" / "demo_profiles.json"
IMPORT_UPLOAD_DIR = BASE_DIR / "var" / "pending_imports"

STATIC_URL = "static/"
# Where `collectstatic` writes (WhiteNoise serves it in production).
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

# --- E-mail -----------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
# Every message goes through a wrapper that counts sent/failed for /metrics and then hands it to
# the backend EMAIL_URL chose (tests replace EMAIL_BACKEND with locmem and skip the wrapper).
EMAIL_DELIVERY_BACKEND: str = vars()["EMAIL_BACKEND"]
EMAIL_BACKEND = "compensation.health.mail.CountingEmailBackend"
DEFAULT_FROM_EMAIL: str = env.str(
    "DEFAULT_FROM_EMAIL", default="Compensation desk <support@localhost>"
)
# Seconds per socket operation with the mail server: a stalled server must not hold a worker.
EMAIL_TIMEOUT: float = env.float("EMAIL_TIMEOUT", default=10.0)
# The outbox: a failed send is tried again after each of these delays (seconds); after the last
# one the e-mail is marked failed and shown to staff on the request. A 5xx answer fails at once.
EMAIL_RETRY_DELAYS: list[int] = [
    int(x) for x in env.list("EMAIL_RETRY_DELAYS", default=["60", "300", "1800", "7200"])
]
# A send still "sending" after this many seconds was interrupted (a killed worker): sent again.
EMAIL_SENDING_STALE_SECONDS: int = env.int("EMAIL_SENDING_STALE_SECONDS", default=300)
# The acknowledgement of a request waits this long for the checks (and deliveries) to finish, so
# one e-mail carries the whole outcome; it goes at once if the request settles sooner.
EMAIL_ACK_GRACE_SECONDS: int = env.int("EMAIL_ACK_GRACE_SECONDS", default=30)
# Staff decisions on one request within this window are told in one e-mail.
EMAIL_REVIEW_WINDOW_SECONDS: int = env.int("EMAIL_REVIEW_WINDOW_SECONDS", default=120)

# --- Credentials encryption ------------------------------------------------------------------
# Comma-separated Fernet keys; the first encrypts, all decrypt (rotation: put the new key first,
# run `manage.py rotate_credentials_key`, then drop the old one). Without keys a development key
# is derived from SECRET_KEY; production settings refuse that.
CREDENTIALS_ENCRYPTION_KEYS: list[str] = env.list("CREDENTIALS_ENCRYPTION_KEYS", default=[])
if not CREDENTIALS_ENCRYPTION_KEYS:
    CREDENTIALS_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(
            hashlib.sha256(f"credentials:{SECRET_KEY}".encode()).digest()
        ).decode()
    ]

# --- Status service (docs/status-service.md) ------------------------------------------------
STATUS_API_URL: str = env.str("STATUS_API_URL", default="").rstrip("/")
STATUS_API_TOKEN: str = env.str("STATUS_API_TOKEN", default="")
STATUS_API_CONNECT_TIMEOUT: float = env.float("STATUS_API_CONNECT_TIMEOUT", default=2.0)
STATUS_API_READ_TIMEOUT: float = env.float("STATUS_API_READ_TIMEOUT", default=5.0)
# Whole-call deadline: (connect, read) timeouts bound each socket read, not a trickling answer.
STATUS_API_DEADLINE: float = env.float("STATUS_API_DEADLINE", default=8.0)
STATUS_API_MAX_ATTEMPTS: int = env.int("STATUS_API_MAX_ATTEMPTS", default=3)
STATUS_API_BACKOFF_BASE: float = env.float("STATUS_API_BACKOFF_BASE", default=0.2)
STATUS_API_RETRY_AFTER_CAP: float = env.float("STATUS_API_RETRY_AFTER_CAP", default=2.0)
STATUS_API_MAX_IN_FLIGHT: int = env.int("STATUS_API_MAX_IN_FLIGHT", default=32)
STATUS_API_BREAKER_THRESHOLD: int = env.int("STATUS_API_BREAKER_THRESHOLD", default=20)
STATUS_API_BREAKER_COOLDOWN: int = env.int("STATUS_API_BREAKER_COOLDOWN", default=30)
# Re-checks of unverified accounts: delays in seconds; after the last one -> manual review.
STATUS_RECHECK_DELAYS: list[int] = [
    int(x) for x in env.list("STATUS_RECHECK_DELAYS", default=["60", "300", "1800"])
]

# --- Customer side ---------------------------------------------------------------------------
# Submissions per client and window: "10/m", "100/h"; "0" turns the limit off.
COMPENSATION_RATE_LIMIT: str = env.str("COMPENSATION_RATE_LIMIT", default="10/m")
# Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
RATE_LIMIT_TRUSTED_PROXIES: int = env.int("RATE_LIMIT_TRUSTED_PROXIES", default=0)
ORDER_LINK_MAX_AGE_DAYS: int = env.int("ORDER_LINK_MAX_AGE_DAYS", default=14)
# The fresh-link form e-mails at most one new link per order within this many minutes.
ORDER_LINK_RESEND_MINUTES: int = env.int("ORDER_LINK_RESEND_MINUTES", default=60)
REVIEW_CLAIM_MINUTES: int = env.int("REVIEW_CLAIM_MINUTES", default=15)

# --- Requests by e-mail (docs/email-intake.md, docs/email-intake.md) ----------------------------
# The support mailbox: imap://user:pass@host:143/INBOX (STARTTLS when offered) or
# imaps://user:pass@host:993/INBOX. Empty: e-mail intake is off.
IMAP_URL: str = env.str("IMAP_URL", default="")
# Finds order ids in a mail's subject and body; only the sender's own orders count.
ORDER_ID_PATTERN: str = env.str("ORDER_ID_PATTERN", default=r"[A-Za-z]{0,4}-?\d{3,}")
try:
    re.compile(ORDER_ID_PATTERN)
except re.error as exc:  # fail at start, not on every mail
    raise ImproperlyConfigured(f"ORDER_ID_PATTERN is not a regular expression: {exc}") from exc
# Bytes read of one message (headers and text come first; the rest, e.g. screenshots, is skipped).
IMAP_MAX_MESSAGE_BYTES: int = env.int("IMAP_MAX_MESSAGE_BYTES", default=1024 * 1024)
# Characters of a message's text kept for staff (attachments are never stored).
IMAP_MAX_TEXT_CHARS: int = env.int("IMAP_MAX_TEXT_CHARS", default=20000)
# Messages older than this are never read, so connecting an old mailbox answers no old mail.
IMAP_LOOKBACK_DAYS: int = env.int("IMAP_LOOKBACK_DAYS", default=3)
# Messages read per poll (the poll runs every minute; the rest waits for the next run).
IMAP_BATCH_SIZE: int = env.int("IMAP_BATCH_SIZE", default=50)
# Seconds for each network operation with the IMAP server.
IMAP_TIMEOUT: float = env.float("IMAP_TIMEOUT", default=30.0)
# --- Storefront (docs/storefront.md: orders in, webhooks out) ---------------------------------
# Shared secret of the storefront's signed order pushes (POST /api/v1/orders); empty = endpoint off.
SHOP_API_SECRET: str = env.str("SHOP_API_SECRET", default="")
# Order pushes per client address and window: "300/m"; "0" turns the limit off.
SHOP_API_RATE_LIMIT: str = env.str("SHOP_API_RATE_LIMIT", default="300/m")
# An endpoint failing without a success for longer than this (seconds) is paused until resumed.
WEBHOOK_PAUSE_AFTER: int = env.int("WEBHOOK_PAUSE_AFTER", default=24 * 3600)
# Allow webhook URLs on loopback, link-local and private addresses (tests, the shop's own network).
WEBHOOK_ALLOW_PRIVATE_HOSTS: bool = env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=False)
WEBHOOK_CONNECT_TIMEOUT: float = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.0)
WEBHOOK_READ_TIMEOUT: float = env.float("WEBHOOK_READ_TIMEOUT", default=10.0)
# Whole attempt (connect, send, the answer's first bytes): a trickling receiver cannot hold on.
WEBHOOK_DEADLINE: float = env.float("WEBHOOK_DEADLINE", default=15.0)

# --- Task cluster (django-q2) ----------------------------------------------------------------
REDIS_URL: str = env.str("REDIS_URL", default="")
Q_CLUSTER: dict[str, object] = {
    "name": "compensation",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 120,
    "retry": 180,  # must exceed timeout, or a slow task is delivered again while it runs
    "max_attempts": 3,
    "queue_limit": 50,
    "bulk": 10,
    "catch_up": False,
    "sync": env.bool("Q_SYNC", default=False),
    # Successful tasks kept in the database. django-q2 prunes them by reading and locking all it
    # keeps, in the monitor, after EVERY task (250 rows by default): more CPU than a check's own
    # work. -1 keeps none; failures are always kept (Admin › Django Q › Failed tasks).
    "save_limit": env.int("Q_SAVE_LIMIT", default=-1),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Serving (config/gunicorn.conf.py reads these; see docs/deploy.md) -------------------------
WEB_BIND: str = env.str("WEB_BIND", default="127.0.0.1:8000")
# Processes × threads = requests served at once (and database connections held by one node).
WEB_CONCURRENCY: int = env.int("WEB_CONCURRENCY", default=2)
WEB_THREADS: int = env.int("WEB_THREADS", default=4)
# A worker silent for this long is killed and replaced (no request here waits on the network).
WEB_TIMEOUT: int = env.int("WEB_TIMEOUT", default=30)
WEB_GRACEFUL_TIMEOUT: int = env.int("WEB_GRACEFUL_TIMEOUT", default=30)
WEB_KEEPALIVE: int = env.int("WEB_KEEPALIVE", default=5)
# Recycle a worker after this many requests (0 = never), jittered so they do not all restart.
WEB_MAX_REQUESTS: int = env.int("WEB_MAX_REQUESTS", default=5000)
# Addresses whose X-Forwarded-* headers gunicorn believes (the nginx in front of it).
WEB_FORWARDED_ALLOW_IPS: str = env.str("WEB_FORWARDED_ALLOW_IPS", default="127.0.0.1")

# --- Health and metrics (compensation/health) ---------------------------------------------------
# /healthz answers 503 when no task cluster has been seen for longer than this (seconds). The
# cluster beats when a worker starts and every minute through the `cluster-heartbeat` schedule.
HEALTH_CLUSTER_MAX_AGE: int = env.int("HEALTH_CLUSTER_MAX_AGE", default=180)
# Bearer token for /metrics (Prometheus text); empty = /metrics answers 404.
METRICS_TOKEN: str = env.str("METRICS_TOKEN", default="")

# Order-page tokens are redacted from log lines: on the loggers that log request paths (a filter
# on a logger sees the records logged there) and on the console handler (everything else).
_REDACT = {"()": "compensation.log_redaction.RedactOrderLinkTokens"}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_order_links": _REDACT},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # Django's own runserver format (re-declared: configuring the logger replaces its handler)
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_order_links"],
        },
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "urllib3": {"level": "WARNING"},
        "django.request": {"filters": ["redact_order_links"]},
        "django.security.csrf": {"filters": ["redact_order_links"]},
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["redact_order_links"],
        },
    },
}

# --- Back office ------------------------------------------------------------------------------
# Hours a case may wait for a person before the queue and the admin home show it in red.
REVIEW_SLA_HOURS: int = env.int("REVIEW_SLA_HOURS", default=24)
# Claim-rate review (policy.md, optional): off by default. When on, the automatic approvals of a
# customer whose claim rate (accounts claimed in earlier requests / accounts bought) is at or
# above CLAIM_RATE_THRESHOLD, with at least CLAIM_RATE_MIN_CLAIMS accounts claimed, go to a person.
CLAIM_RATE_REVIEW: bool = env.bool("CLAIM_RATE_REVIEW", default=False)
CLAIM_RATE_THRESHOLD: float = env.float("CLAIM_RATE_THRESHOLD", default=0.5)
CLAIM_RATE_MIN_CLAIMS: int = env.int("CLAIM_RATE_MIN_CLAIMS", default=3)
