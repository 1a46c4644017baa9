"""Production settings: the deploy check passes, DEBUG cannot be switched on, and every answer
carries the hardening headers (clickjacking, MIME sniffing, referrer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json
import django
from django.conf import settings
django.setup()
from django.test import Client
client = Client(HTTP_HOST="shop.example.com")
secure = client.get("/", secure=True)
plain = client.get("/")
print(json.dumps({
    "debug": settings.DEBUG,
    "x_frame": settings.X_FRAME_OPTIONS,
    "status": secure.status_code,
    "headers": {k: secure.get(k) for k in (
        "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
        "Strict-Transport-Security", "Cross-Origin-Opener-Policy")},
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location"),
    "cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE,
                settings.SESSION_COOKIE_HTTPONLY],
}))
"""


def _production_env(**extra: str) -> dict[str, str]:
    # Only what a process needs to start: other tests set variables (e.g. the browser tests'
    # DJANGO_ALLOW_ASYNC_UNSAFE) that a deployment must not have.
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="test-" + "k7Q2x9Lm4Vb8Nw3Zr6Tp1Yc5Hs0Jd" * 2,
        CREDENTIALS_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="shop.example.com",
        STATUS_API_URL="https://status.example.com",
        DATABASE_URL="sqlite:///:memory:",
        # A shared cache for the rate limit (the check does not connect to it).
        CACHE_URL="rediscache://127.0.0.1:6379/7",
    )
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.timeout(180)
def test_deploy_check_passes_at_warning_level_even_with_debug_requested() -> None:
    result = _run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        _production_env(DEBUG="true"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.timeout(180)
def test_production_forces_debug_off_and_sends_the_hardening_headers() -> None:
    result = _run([sys.executable, "-c", PROBE], _production_env(DEBUG="true"))
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["debug"] is False
    assert probe["status"] == 200
    assert probe["headers"] == {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    assert probe["plain_status"] == 301
    assert probe["plain_location"] == "https://shop.example.com/"
    assert probe["cookies"] == [True, True, True]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "Set SECRET_KEY"),
        ("CREDENTIALS_ENCRYPTION_KEYS", "Set CREDENTIALS_ENCRYPTION_KEYS"),
        ("STATUS_API_URL", "Set STATUS_API_URL"),
    ],
)
@pytest.mark.skipif((ROOT / ".env").exists(), reason="a local .env would supply the setting")
@pytest.mark.timeout(180)
def test_production_refuses_to_start_without_its_secrets(missing: str, message: str) -> None:
    env = _production_env()
    del env[missing]
    result = _run([sys.executable, "manage.py", "check"], env)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize("cache_url", ["locmemcache://", "dummycache://", "filecache:///tmp/rl"])
@pytest.mark.timeout(180)
def test_production_refuses_a_rate_limit_cache_that_is_not_shared(cache_url: str) -> None:
    result = _run([sys.executable, "manage.py", "check"], _production_env(CACHE_URL=cache_url))
    assert result.returncode == 1
    assert "compensation.E001" in result.stderr
    assert "not shared between processes" in result.stderr


@pytest.mark.timeout(180)
def test_production_accepts_a_per_process_cache_when_the_rate_limit_is_off() -> None:
    env = _production_env(CACHE_URL="locmemcache://", COMPENSATION_RATE_LIMIT="0")
    result = _run([sys.executable, "manage.py", "check"], env)
    assert result.returncode == 0, result.stderr
