"""Settings for the HTTP benchmarks: the application's own settings, plus one URL that serves a
minimal one-query Django view (the anchor), no rate limit, no debug."""

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.http_urls"
DEBUG = False
COMPENSATION_RATE_LIMIT = "0"
