"""`manage.py demo_status_server`: a local status service for the demo (docs/status-service.md).

Answers from `var/demo_profiles.json` (written by `manage.py load_demo`: a dict
"platform/username_lowercase" -> the profile JSON of a 200 answer), re-read whenever the file
changes. An entry may instead hold {"http_status": 503, "retry_after": 60} to show a failing
service. An account that is in the database but not in the file answers `active` with its
baseline (unchanged, i.e. "appears active"); anything else answers 404.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from compensation.status.double import Status, StatusDouble
from inventory.interactions import INTERACTION_KINDS
from inventory.models import Account

logger = logging.getLogger(__name__)


def default_profiles_path() -> Path:
    return Path(settings.BASE_DIR) / "var" / "demo_profiles.json"


class DemoProfiles:
    """The profiles file, re-read when its modification time or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._profiles: dict[str, Any] = {}

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._profiles = None, {}
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning(
                "demo profiles %s unreadable (%s): keeping the previous ones", self.path, exc
            )
            return
        if not isinstance(data, dict):
            logger.warning("demo profiles %s is not a JSON object: ignored", self.path)
            return
        self._profiles = {str(k).lower(): v for k, v in data.items()}
        self._stamp = stamp

    def lookup(self, platform: str, username: str) -> Any:
        with self._lock:
            self._refresh()
            entry = self._profiles.get(f"{platform.lower()}/{username.lower()}")
        if isinstance(entry, dict) and "http_status" in entry:
            headers = {}
            if entry.get("retry_after") is not None:
                headers["Retry-After"] = str(entry["retry_after"])
            return Status(int(entry["http_status"]), {"error": "demo failure"}, headers)
        return entry


def account_profile(platform: str, username: str, user_id: str | None) -> dict[str, Any] | None:
    """An account known to the shop, as its unchanged baseline (state active)."""
    try:
        accounts = Account.objects.filter(platform=platform.lower())
        account = accounts.filter(username__iexact=username).first()
        if account is None and user_id:
            account = accounts.filter(platform_user_id=user_id).first()
        if account is None:
            return None
        interactions = {
            kind: getattr(account, f"baseline_{kind}")
            for kind in INTERACTION_KINDS
            if getattr(account, f"baseline_{kind}") is not None
        }
        return {
            "platform": account.platform,
            "user_id": account.platform_user_id or None,
            "username": account.username,
            "state": "active",
            "followers": account.baseline_followers,
            "interactions": interactions,
        }
    finally:
        connection.close()  # each request runs in its own server thread


def demo_resolver(profiles: DemoProfiles) -> Any:
    def resolve(platform: str, username: str, user_id: str | None) -> Any:
        answer = profiles.lookup(platform, username)
        if answer is None:
            answer = account_profile(platform, username, user_id)
        return answer

    return resolve


class Command(BaseCommand):
    help = "Serve a demo status service (public profiles) on 127.0.0.1."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--profiles", default=None, help="default: var/demo_profiles.json")
        parser.add_argument(
            "--latency", type=float, default=0.0, help="seconds added to each answer"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["profiles"]) if options["profiles"] else default_profiles_path()
        double = StatusDouble(
            host=options["host"], port=options["port"], resolver=demo_resolver(DemoProfiles(path))
        )
        double.latency = options["latency"]
        self.stdout.write(
            f"Demo status service on {double.url} (profiles: {path}); Ctrl-C stops it."
        )
        self.stdout.write(f"Point the product at it with STATUS_API_URL={double.url}")
        try:
            double.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            double.stop()
