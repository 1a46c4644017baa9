"""Test settings: base plus fast hashing, captured e-mail and tasks run in-process."""

from .base import *  # noqa: F403
from .base import Q_CLUSTER

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
Q_CLUSTER["sync"] = True
DEBUG = False
