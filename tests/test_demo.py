from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from compensation import rules
from compensation.demo import demo_load
from inventory.models import INTERACTION_KINDS, Account, Event, ImportBatch, Product
from orders.models import Order

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_tasks(queued: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Nothing these imports wake up is queued."""


def counts() -> tuple[int, int, int, int, int]:
    return (
        Product.objects.count(),
        Account.objects.count(),
        Order.objects.count(),
        Account.objects.filter(state="delivered").count(),
        Event.objects.filter(kind="order_imported").count(),
    )


def test_demo_shop_has_platforms_stock_and_orders_of_every_age(tmp_path: Path) -> None:
    summary = demo_load(now=NOW, profiles_path=tmp_path / "profiles.json")

    assert set(Product.objects.values_list("platform", flat=True)) == {
        "instagram",
        "x",
        "tiktok",
        "reddit",
    }
    assert sorted((NOW - o.placed_at).days for o in Order.objects.all()) == [2, 5, 10, 20, 40]
    stock = Account.objects.filter(state="in_stock")
    assert stock.count() == 34  # 35 imported, one sold to D1020
    assert set(stock.values_list("supplier", flat=True)) == {
        "farm-north",
        "farm-south",
        "reseller-eu",
    }
    assert not stock.filter(baseline_followers__isnull=True).exists()
    assert all(
        o.lines.exists() and Account.objects.filter(line__order=o).exists()
        for o in Order.objects.all()
    )
    assert (
        Account.objects.filter(
            line__order__order_id="D1020", product__sku="IG-AGED", delivered_at=NOW
        ).count()
        == 1
    )  # a sale from stock
    assert [r.kind for r in summary.reports] == ["products", "stock", "orders"]
    assert ImportBatch.objects.count() == 3
    assert Event.objects.filter(kind="order_imported").count() == 5


def test_demo_load_twice_changes_nothing(tmp_path: Path) -> None:
    demo_load(now=NOW, profiles_path=tmp_path / "p.json")
    before = counts()
    again = demo_load(now=NOW, profiles_path=tmp_path / "p.json")
    assert counts() == before
    assert [(r.created, r.skipped) for r in again.reports] == [(0, 5), (0, 35), (0, 5)]


def test_demo_profiles_match_the_interface_and_cover_every_policy_path(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    demo_load(now=NOW, profiles_path=path)
    profiles = json.loads(path.read_text())
    delivered = {
        f"{a.platform}/{a.username.lower()}": a
        for a in Account.objects.filter(state="delivered").select_related("line__order")
    }

    assert set(profiles) <= set(delivered)
    rules_seen = set()
    for key, profile in profiles.items():
        account = delivered[key]
        placed_at = account.line.order.placed_at  # type: ignore[union-attr]
        if rules.line_refusal(
            order_placed_at=placed_at, now=NOW, claim_window_days=30, earlier_use_received_at=None
        ):
            rules_seen.add("outside_window")
            continue
        if "http_status" in profile:
            assert profile["http_status"] >= 500
            observation = None
        else:
            assert set(profile) == {
                "platform",
                "user_id",
                "username",
                "state",
                "followers",
                "interactions",
            }
            assert profile["platform"] == account.platform
            assert profile["state"] in {"active", "locked", "suspended", "not_found"}
            observation = rules.Observation(
                state=profile["state"],
                username=profile["username"],
                user_id=profile["user_id"],
                followers=profile["followers"],
                interactions=profile["interactions"],
            )
        baseline = rules.Baseline(
            username=account.username,
            user_id=account.platform_user_id,
            followers=account.baseline_followers,
            interactions=account.baseline_interactions,
        )
        verdict = rules.decide_account(
            rules.AccountFacts(
                baseline=baseline,
                observation=observation,
                password_change_warning=False,
                order_placed_at=placed_at,
                now=NOW,
            )
        )
        rules_seen.add(verdict.rule)
    assert rules_seen == {
        "outside_window",
        "status_unavailable",
        "username_changed",
        "profile_not_found",
        "multiple_interactions",
        "locked_no_interaction",
        "locked_one_interaction",
        "suspended_no_interaction",
        "suspended_one_interaction",
        "interactions_unknown",
        "followers_decreased",
        "appears_active",
    }


def test_demo_guide_matches_the_rule_engine(tmp_path: Path) -> None:
    summary = demo_load(now=NOW, profiles_path=tmp_path / "p.json")
    profiles = json.loads((tmp_path / "p.json").read_text())
    for order in summary.orders:
        for _sku, username, expect in order["accounts"]:
            if "from stock" in username:
                continue
            account = Account.objects.select_related("line__order").get(username=username)
            profile = profiles[f"{account.platform}/{username}"]
            placed_at = Order.objects.get(order_id=order["order_id"]).placed_at
            refusal = rules.line_refusal(
                order_placed_at=placed_at,
                now=NOW,
                claim_window_days=30,
                earlier_use_received_at=None,
            )
            if refusal:
                rule = refusal
            else:
                observation = (
                    None
                    if "http_status" in profile
                    else rules.Observation(
                        state=profile["state"],
                        username=profile["username"],
                        user_id=profile["user_id"],
                        followers=profile["followers"],
                        interactions=profile["interactions"],
                    )
                )
                rule = rules.decide_account(
                    rules.AccountFacts(
                        baseline=rules.Baseline(
                            username=account.username,
                            user_id=account.platform_user_id,
                            followers=account.baseline_followers,
                            interactions={
                                k: getattr(account, f"baseline_{k}") for k in INTERACTION_KINDS
                            },
                        ),
                        observation=observation,
                        password_change_warning=False,
                        order_placed_at=placed_at,
                        now=NOW,
                    )
                ).rule
            assert expect.split(" ")[0] == rule, username


def test_load_demo_command_creates_admin_and_respects_if_empty(tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("load_demo", "--if-empty", "--profiles", str(tmp_path / "p.json"), stdout=out)
    text = out.getvalue()
    assert "http://127.0.0.1:8000/admin/" in text and "username: admin" in text
    password = text.split("password: ")[1].split()[0]
    admin = User.objects.get()
    assert admin.username == "admin" and admin.is_superuser and admin.check_password(password)
    assert "D1002" in text and (tmp_path / "p.json").is_file()
    before = counts()

    out = io.StringIO()
    call_command("load_demo", "--if-empty", "--profiles", str(tmp_path / "p.json"), stdout=out)

    assert "demo data not loaded" in out.getvalue() and "password:" not in out.getvalue()
    assert counts() == before and User.objects.count() == 1


def test_demo_times_are_relative_to_now(tmp_path: Path) -> None:
    demo_load(now=NOW - timedelta(days=1), profiles_path=tmp_path / "p.json")
    assert Order.objects.get(order_id="D1002").placed_at == NOW - timedelta(days=3)
