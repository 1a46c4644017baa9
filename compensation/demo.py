"""Demo data: a small living shop for a newcomer (`manage.py load_demo`).

Everything goes through the real import services (products, stock, orders), so the demo also
shows the import path. Next to the data it writes the profiles the demo status service
(`manage.py demo_status_server`) answers with, so that every policy path can be tried by hand
from the customer form: `var/demo_profiles.json` maps "platform/username_lowercase" to the
status-service JSON (docs/status-service.md), or to {"http_status": 503} for a failing service.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from inventory.import_rows import ImportReport
from inventory.importing import products_import, stock_import
from inventory.models import INTERACTION_KINDS, Product
from orders.services import orders_import

PRODUCTS = [
    ("IG-AGED", "Instagram account, aged 2019", "instagram"),
    ("IG-FRESH", "Instagram account, fresh", "instagram"),
    ("X-AGED", "X account, aged 2020", "x"),
    ("TT-CREATOR", "TikTok account, 1k followers", "tiktok"),
    ("RD-KARMA", "Reddit account, 500+ karma", "reddit"),
]
# Free stock per product (TT-CREATOR is kept short so a replacement has to wait for stock).
STOCK = {"IG-AGED": 12, "IG-FRESH": 8, "X-AGED": 8, "TT-CREATOR": 1, "RD-KARMA": 6}
SUPPLIERS = ["farm-north", "farm-south", "reseller-eu"]
ZERO = dict.fromkeys(INTERACTION_KINDS, 0)


@dataclass(frozen=True)
class DemoAccount:
    """A delivered account and what the demo status service says about it now."""

    username: str
    state: str  # active | locked | suspended | not_found | unavailable
    expect: str  # the rule the policy should apply (for the printed guide)
    interactions: dict[str, int] | None = field(default_factory=lambda: dict(ZERO))
    followers_now: int | None = 250
    renamed_to: str = ""
    user_id: bool = True


# (order id, days ago, {sku: [accounts]} history lines, {sku: quantity} sales from stock)
ORDERS: list[tuple[str, int, dict[str, list[DemoAccount]], dict[str, int]]] = [
    (
        "D1002",
        2,
        {
            "IG-AGED": [
                DemoAccount("ig_locked_zero", "locked", "locked_no_interaction → approved"),
                DemoAccount(
                    "ig_locked_one",
                    "locked",
                    "locked_one_interaction → approved",
                    {**ZERO, "likes": 1},
                ),
                DemoAccount(
                    "ig_locked_three",
                    "locked",
                    "multiple_interactions → rejected",
                    {**ZERO, "posts": 2, "comments": 1},
                ),
                DemoAccount("ig_suspended_zero", "suspended", "suspended_no_interaction → review"),
            ],
            "X-AGED": [
                DemoAccount(
                    "x_suspended_one",
                    "suspended",
                    "suspended_one_interaction → review",
                    {**ZERO, "follows": 1},
                ),
                DemoAccount(
                    "x_suspended_unknown", "suspended", "interactions_unknown → review", None
                ),
            ],
        },
        {},
    ),
    (
        "D1005",
        5,
        {
            "IG-FRESH": [
                DemoAccount(
                    "igf_fewer_followers",
                    "active",
                    "followers_decreased → approved",
                    followers_now=240,
                ),
                DemoAccount("igf_active", "active", "appears_active → rejected (use it first)"),
            ],
            "TT-CREATOR": [
                DemoAccount(
                    "tt_not_found_a", "not_found", "profile_not_found → review", user_id=False
                ),
                DemoAccount(
                    "tt_locked_zero",
                    "locked",
                    "locked_no_interaction → approved (takes "
                    "the only TT-CREATOR in stock; approving tt_not_found_a then waits)",
                ),
            ],
        },
        {},
    ),
    (
        "D1010",
        10,
        {
            "X-AGED": [
                DemoAccount(
                    "x_renamed", "locked", "username_changed → rejected", renamed_to="New_Name"
                ),
                DemoAccount(
                    "x_fewer_followers_late",
                    "active",
                    "appears_active → rejected (follower drops count only 7 days)",
                    followers_now=200,
                ),
            ],
            "RD-KARMA": [
                DemoAccount(
                    "rd_unavailable",
                    "unavailable",
                    "status_unavailable → unverified, re-checked later",
                ),
            ],
        },
        {},
    ),
    (
        "D1020",
        20,
        {
            "RD-KARMA": [
                DemoAccount("rd_locked_zero", "locked", "locked_no_interaction → approved"),
                DemoAccount(
                    "rd_locked_one",
                    "locked",
                    "locked_one_interaction → approved",
                    {**ZERO, "messages": 1},
                ),
            ],
        },
        {"IG-AGED": 1},
    ),
    (
        "D1040",
        40,
        {
            "IG-AGED": [
                DemoAccount("ig_old_locked", "locked", "outside_window → rejected (40 days)"),
            ],
        },
        {},
    ),
]
PLATFORM_OF = {sku: platform for sku, _, platform in PRODUCTS}


@dataclass
class DemoSummary:
    reports: list[ImportReport]
    profiles_path: Path
    profiles: int
    orders: list[dict[str, Any]]


def demo_profiles_path() -> Path:
    return Path(settings.DEMO_PROFILES_PATH)


def _csv(rows: list[list[Any]]) -> io.BytesIO:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return io.BytesIO(text.getvalue().encode())


def _user_id(rng: random.Random) -> str:
    return str(rng.randrange(10**9, 10**10))


def _profile(platform: str, account: DemoAccount, user_id: str) -> dict[str, Any]:
    if account.state == "unavailable":
        return {"http_status": 503, "retry_after": 30}
    if account.state == "not_found":
        return {
            "platform": platform,
            "user_id": None,
            "username": account.username,
            "state": "not_found",
            "followers": None,
            "interactions": None,
        }
    return {
        "platform": platform,
        "user_id": user_id or None,
        "username": account.renamed_to or account.username,
        "state": account.state,
        "followers": account.followers_now,
        "interactions": account.interactions,
    }


def demo_load(*, now: datetime, profiles_path: Path | None = None) -> DemoSummary:
    """Load the demo shop (idempotent: a second run skips what is there) and write the profiles
    of the demo status service. Deterministic for a given `now`."""
    rng = random.Random(2026)
    path = profiles_path or demo_profiles_path()
    reports: list[ImportReport] = []

    with transaction.atomic():
        reports.append(
            products_import(
                source=_csv([["sku", "name", "platform"], *[list(p) for p in PRODUCTS]]),
                filename="demo-products.csv",
                actor=None,
                now=now,
            )
        )
        stock_rows: list[list[Any]] = [
            [
                "sku",
                "username",
                "password",
                "user_id",
                "email",
                "followers",
                *INTERACTION_KINDS,
                "supplier",
            ]
        ]
        for sku, count in STOCK.items():
            for n in range(1, count + 1):
                username = f"{sku.lower().replace('-', '_')}_stock_{n:02d}"
                stock_rows.append(
                    [
                        sku,
                        username,
                        secrets.token_urlsafe(12),
                        _user_id(rng),
                        f"{username}@mailbox.example",
                        rng.randrange(150, 1200),
                        *[rng.randrange(0, 6) for _ in INTERACTION_KINDS],
                        rng.choice(SUPPLIERS),
                    ]
                )
        reports.append(
            stock_import(source=_csv(stock_rows), filename="demo-stock.csv", actor=None, now=now)
        )

        orders: list[dict[str, Any]] = []
        profiles: dict[str, Any] = {}
        guide: list[dict[str, Any]] = []
        for number, (order_id, days, history, sales) in enumerate(ORDERS, start=1):
            lines: list[dict[str, Any]] = []
            expected: list[tuple[str, str, str]] = []
            for sku, accounts in history.items():
                platform = PLATFORM_OF[sku]
                items: list[dict[str, Any]] = []
                for account in accounts:
                    user_id = _user_id(rng) if account.user_id else ""
                    items.append(
                        {
                            "username": account.username,
                            "user_id": user_id,
                            "password": secrets.token_urlsafe(12),
                            "email": f"{account.username}@mailbox.example",
                            "followers": 250,
                            **ZERO,
                            "supplier": SUPPLIERS[len(items) % len(SUPPLIERS)],
                        }
                    )
                    profiles[f"{platform}/{account.username.lower()}"] = _profile(
                        platform, account, user_id
                    )
                    expected.append((sku, account.username, account.expect))
                lines.append({"sku": sku, "accounts": items})
            for sku, quantity in sales.items():
                lines.append({"sku": sku, "quantity": quantity})
                expected.append((sku, f"{quantity} from stock", "appears_active → rejected"))
            email = f"demo.buyer{number}@example.com"
            orders.append(
                {
                    "order_id": order_id,
                    "email": email,
                    "placed_at": (now - timedelta(days=days)).isoformat(),
                    "lines": lines,
                }
            )
            guide.append(
                {"order_id": order_id, "email": email, "days_ago": days, "accounts": expected}
            )
        reports.append(
            orders_import(
                source=io.BytesIO(json.dumps(orders).encode()),
                filename="demo-orders.json",
                actor=None,
                now=now,
            )
        )
        failed = [r for r in reports if not r.ok]
        if failed:  # the demo data itself is wrong: a bug, never a user error
            raise RuntimeError("; ".join(f"{r.kind}: {e}" for r in failed for e in r.errors))

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".demo_profiles.", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(profiles, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return DemoSummary(reports=reports, profiles_path=path, profiles=len(profiles), orders=guide)


def demo_is_loaded() -> bool:
    return Product.objects.exists()


def demo_admin_ensure() -> str | None:
    """Create the superuser `admin` when there is no user at all; returns its new password."""
    users = get_user_model()
    with transaction.atomic():
        if users.objects.exists():
            return None
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser("admin", "admin@localhost", password)
        return password
