"""Production settings: only hardening on top of base (which reads the environment)."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import _DEV_SECRET, MIDDLEWARE, SECRET_KEY, env

if SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("Set SECRET_KEY for production.")
if not env.list("CREDENTIALS_ENCRYPTION_KEYS", default=[]):
    raise ImproperlyConfigured("Set CREDENTIALS_ENCRYPTION_KEYS for production.")

if not env.str("STATUS_API_URL", default=""):
    # Without it the client would fall back to the demo status service on 127.0.0.1:8001.
    raise ImproperlyConfigured("Set STATUS_API_URL for production.")

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# A load balancer or monitor may probe a node directly over plain HTTP: /healthz answers there
# instead of redirecting (it holds no secret; /metrics stays behind HTTPS and its token).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Static files (the admin's CSS/JS, the customer pages' assets) served by the app itself with
# WhiteNoise: `collectstatic` writes compressed copies under hashed names, which are sent with a
# year-long immutable Cache-Control. Right after SecurityMiddleware, as WhiteNoise documents.
MIDDLEWARE = [
    *MIDDLEWARE[: MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1],
    "whitenoise.middleware.WhiteNoiseMiddleware",
    *MIDDLEWARE[MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1 :],
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
