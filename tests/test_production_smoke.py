"""Production smoke test (CI): the deployment steps of docs/deploy.md on a throwaway PostgreSQL
database, gunicorn with config/gunicorn.conf.py and `config.settings.production`, Redis as broker
and cache, two task clusters, the status-service double over real HTTP.

Requests submitted over HTTP are decided and delivered (replacements and e-mails); the admin's
CSS comes from WhiteNoise with a year-long immutable Cache-Control; the access log never holds an
order-page token; /metrics answers with the token; /healthz is 200, then 503 naming the database
while PostgreSQL refuses connections, then 200 again once it accepts them."""

from __future__ import annotations

import os
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from .prod_stack import (
    METRICS_TOKEN,
    Stack,
    history_order,
    pg_server_url,
    redis_available,
    stack,
    wait_for,
    write_orders,
    write_products,
    write_stock,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(600)]

ORDERS = 6
ACCOUNTS_PER_ORDER = 2


@pytest.fixture
def running(tmp_path: Path) -> Any:
    if not redis_available():
        if os.environ.get("CI"):
            pytest.fail("CI must run the production smoke test: Redis does not answer")
        pytest.skip("needs Redis on 127.0.0.1:6379")
    db = settings.DATABASES["default"]
    with stack(tmp_path, pg_server_url(db), f"{db['NAME']}_smoke") as desk:
        yield desk


def _prepare(desk: Stack, tmp: Path) -> list[dict[str, Any]]:
    desk.deploy()
    desk.manage(
        "import_products", str(write_products(tmp / "p.csv", [("IG-AGED", "IG", "instagram")]))
    )
    need = ORDERS * ACCOUNTS_PER_ORDER
    desk.manage(
        "import_stock",
        str(write_stock(tmp / "s.csv", "IG-AGED", [f"spare{i}" for i in range(need)])),
    )
    placed = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    orders = [
        history_order(
            f"S{i:03d}",
            f"buyer{i}@example.com",
            "IG-AGED",
            [f"sold{i}_{k}" for k in range(ACCOUNTS_PER_ORDER)],
            placed,
        )
        for i in range(ORDERS)
    ]
    desk.manage("import_orders", str(write_orders(tmp / "o.json", orders)))
    return orders


def _decided_and_delivered(body: dict[str, Any]) -> bool:
    accounts = [a for line in body["lines"] for a in line["accounts"]]
    return body["status"] == "decided" and all(
        a["decision"] == "approved" and a["replacement"] == {"state": "delivered"} for a in accounts
    )


def test_production_stack_serves_decides_delivers_and_reports_health(
    running: Stack, tmp_path: Path
) -> None:
    desk = running
    orders = _prepare(desk, tmp_path)
    web = desk.start_web("web")
    clusters = [desk.start_cluster("cluster-a"), desk.start_cluster("cluster-b")]
    http = desk.client()

    # Healthy once a cluster worker has beaten (at worker start).
    health = wait_for(lambda: http.get(f"{web.url}/healthz", timeout=5), 60)
    assert health.json()["status"] == "ok"
    assert set(health.json()["checks"]) == {
        "database",
        "broker",
        "cluster",
        "status_service",
        "review_queue",
    }
    assert health.json()["checks"]["broker"] == {"ok": True, "kind": "redis"}

    # Submissions over HTTP: accepted, decided by the rules, delivered from stock.
    ids = []
    for order in orders:
        answer = http.post(
            f"{web.url}/api/v1/compensation-requests",
            json={
                "email": order["email"],
                "order_id": order["order_id"],
                "reason": "locked after delivery",
                "password_change_warning": False,
            },
            timeout=10,
        )
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    for request_id in ids:
        done = wait_for(
            lambda rid=request_id: _decided_and_delivered(
                http.get(f"{web.url}/api/v1/compensation-requests/{rid}", timeout=5).json()
            ),
            120,
        )
        assert done
    # One e-mail per request, to its customer: decided and delivered at once, the acknowledgement
    # carries the whole outcome (docs/decisions.md, "E-mails").
    expected = ORDERS
    wait_for(lambda: len(desk.emails()) >= expected, 60)
    time.sleep(1)  # nothing more may arrive
    messages = desk.emails()
    assert len(messages) == expected
    assert sorted(str(m["To"]) for m in messages) == sorted(o["email"] for o in orders)
    assert desk.sql("SELECT count(*) FROM compensation_notification WHERE state <> 'sent'") == [
        (0,)
    ]
    assert desk.status.total_requests == ORDERS * ACCOUNTS_PER_ORDER

    # Static files: the admin's CSS under a hashed name, compressed, cached for a year.
    login = http.get(f"{web.url}/admin/login/", timeout=10)
    assert login.status_code == 200
    css_path = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.text)
    assert css_path, login.text[:500]
    css = http.get(f"{web.url}{css_path.group(1)}", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert css.status_code == 200
    assert css.headers["Cache-Control"] == "max-age=315360000, public, immutable"
    assert css.headers["Content-Encoding"] == "gzip"
    assert css.headers["Content-Type"].startswith("text/css")
    assert "body" in css.text

    # An order-page token never reaches the access log.
    token = "Zk3TOKENs3cr3tvalue-ab12"
    assert http.get(f"{web.url}/orders/link/{token}/", timeout=10).status_code == 404

    # /metrics with the token: the desk-wide counters saw the e-mails and the status calls.
    metrics = http.get(
        f"{web.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    )
    assert metrics.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.text)
        for s in family.samples
    }
    assert samples[("compensation_emails_total", (("result", "sent"),))] == expected
    assert samples[("compensation_status_calls_total", (("result", "ok"),))] == (
        ORDERS * ACCOUNTS_PER_ORDER
    )
    assert samples[("compensation_task_clusters", ())] == 2.0
    assert (
        samples[("compensation_http_responses_total", (("area", "api"), ("outcome", "success")))]
        >= ORDERS
    )

    # The database refuses connections: 503 naming it; back: 200.
    name = desk.database_url.rsplit("/", 1)[1]
    admin = desk.database_url.rsplit("/", 1)[0] + "/postgres"
    try:
        _sql(admin, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        _sql(
            admin,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        )
        down = http.get(f"{web.url}/healthz", timeout=10)
        assert down.status_code == 503
        assert down.json()["failing"] == ["database"]
        assert down.json()["checks"]["database"] == {"ok": False}
        assert down.json()["checks"]["broker"] == {"ok": True, "kind": "redis"}
    finally:
        _sql(admin, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    assert wait_for(lambda: http.get(f"{web.url}/healthz", timeout=5), 30).json()["status"] == "ok"

    for cluster in clusters:
        assert cluster.stop() == 0, cluster.output()[-2000:]
    assert web.stop() == 0
    log = web.output()
    assert token not in log
    assert '"GET /orders/link/<redacted>/ HTTP/1.1" 404' in log
    assert '"POST /api/v1/compensation-requests HTTP/1.1" 202' in log

    _restore_drill(desk, tmp_path, admin, name)


COUNTED = ("orders_order", "inventory_account", "compensation_notification", "orders_event")


def _restore_drill(desk: Stack, tmp: Path, admin: str, name: str) -> None:
    """docs/deploy.md's backup and restore drill: pg_dump -Fc, pg_restore into a new database,
    `migrate --check` there, the same rows, and a credential that opens with the keys."""
    server = admin.rsplit("/", 1)[0]
    dump = tmp / "compensation.dump"
    subprocess.run(  # noqa: S603
        ["pg_dump", "--format=custom", f"--file={dump}", f"{server}/{name}"],  # noqa: S607
        check=True,
        timeout=120,
    )
    restored = f"{name}_restore"
    _sql(admin, f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
    _sql(admin, f'CREATE DATABASE "{restored}"')
    try:
        subprocess.run(  # noqa: S603
            ["pg_restore", "--no-owner", f"--dbname={server}/{restored}", str(dump)],  # noqa: S607
            check=True,
            timeout=120,
        )
        desk.manage("migrate", "--check", DATABASE_URL=f"{server}/{restored}")
        opened = desk.manage(
            "shell",
            "-c",
            "from inventory.models import Account; from inventory.crypto import credentials_open;"
            "a = Account.objects.filter(username='spare0').get();"
            "print(credentials_open(a.credentials_sealed).password)",
            DATABASE_URL=f"{server}/{restored}",
        )
        assert opened.strip().splitlines()[-1] == "pw-spare0"
        for table in COUNTED:
            query = f"SELECT count(*) FROM {table}"
            with psycopg.connect(f"{server}/{restored}") as copy:
                restored_rows = copy.execute(query).fetchone()
            assert restored_rows == desk.sql(query)[0], table
    finally:
        _sql(admin, f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')


def _sql(url: str, query: str, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(query, params)
