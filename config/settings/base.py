"""Settings: the one place that reads the environment.

Every variable here is listed, with its default, in `.env.example`. Defaults are chosen so a
newcomer with nothing but Python gets a working system (SQLite, console e-mail, ORM task broker).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"  # noqa: S105

SECRET_KEY: str = env.str("SECRET_KEY", default=_DEV_SECRET)
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
    "inventory",
    "orders",
    "compensation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- E-mail -----------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL: str = env.str(
    "DEFAULT_FROM_EMAIL", default="Compensation desk <support@localhost>"
)

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

# --- Status service (interfaces.md §1) -------------------------------------------------------
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
REVIEW_CLAIM_MINUTES: int = env.int("REVIEW_CLAIM_MINUTES", default=15)

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
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

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
