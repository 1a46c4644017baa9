"""A shop-sized dataset built set-based (INSERT … SELECT generate_series) in the current
PostgreSQL database: minutes at the size of issue 12, a second at the size of a test.

At `scale=1.0`: 100k orders / 150k lines, 451k accounts of which 300k in stock, 50k requests,
76k decisions of which 10.2k wait for a person, 30k replacement batches (10k waiting), 434k
events, plus one 1,000-account order with two requests (10 and 1,000 decisions). Every count
scales linearly; the 1,000-account order, the 20 products, the staff users and the 100 import
batches do not (so a page whose query count follows the data shows it between two scales).

Ids are explicit so rows can refer to each other without lookups; the sequences are moved past
them at the end. Works inside a transaction (the pytest test builds it in the test database).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PRODUCTS = 20
IMPORT_BATCHES = 100
PLATFORMS = ("instagram", "x", "tiktok", "reddit", "facebook", "youtube", "telegram", "discord")
BIG_ACCOUNTS = 1000
SMALL_REQUEST_DECISIONS = 10
BIG_APPROVED = 100
BIG_MANUAL = 300


@dataclass(frozen=True)
class Sizes:
    orders: int
    two_line_orders: int
    lines: int
    sold_accounts: int
    in_stock: int
    requests: int
    two_claim_requests: int
    decisions: int
    events: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        def n(base: int, minimum: int = 4) -> int:
            return max(minimum, round(base * scale))

        orders = n(100_000, 20)
        two_line = min(orders, n(50_000, 10))
        requests = min(two_line, n(50_000, 10))
        two_claim = min(requests, n(26_000, 5))
        lines = orders + two_line
        return cls(
            orders=orders,
            two_line_orders=two_line,
            lines=lines,
            sold_accounts=max(2 * two_line, min(lines, n(130_000, 20))),
            in_stock=n(300_000, 40),
            requests=requests,
            two_claim_requests=two_claim,
            decisions=requests + two_claim,
            events=n(434_000, 100),
        )


@dataclass
class Dataset:
    """What was built, and the ids and search terms the page benchmark needs."""

    scale: float
    sizes: Sizes
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    superuser_id: int = 0
    ids: dict[str, Any] = field(default_factory=dict)


def _order_ref(i: int) -> str:
    return f"SH{i:07d}"


# Decision outcome by d (1..decisions): x = (d * 37) % 380 scatters them. 150/380 approved
# (30k at scale 1), 51/380 waiting for a person (10.2k), the rest rejected.
_X = "((d * 37) % 380)"
_DECISION = f"""CASE WHEN r_checking THEN 'pending'
     WHEN {_X} < 150 THEN 'approved' WHEN {_X} < 201 THEN 'manual_review' ELSE 'rejected' END"""
_RULE = f"""CASE WHEN r_checking THEN ''
     WHEN {_X} < 150 THEN (ARRAY['locked_no_interaction','locked_one_interaction',
                                 'followers_decreased'])[1 + d % 3]
     WHEN {_X} < 201 THEN (ARRAY['profile_not_found','suspended_no_interaction',
                                 'suspended_one_interaction','interactions_unknown'])[1 + d % 4]
     ELSE (ARRAY['appears_active','multiple_interactions','username_changed',
                 'password_change_warning','outside_window'])[1 + d % 5] END"""


def _evidence(rule: str, placed: str, decided: str, username: str, followers: str) -> str:
    """A JSON object shaped and sized like the rules' evidence (about 800 bytes)."""
    return f"""jsonb_build_object(
        'rule', {rule}, 'decision', 'x', 'decided_at', {decided},
        'observation', jsonb_build_object('platform', 'instagram', 'user_id', {username},
            'username', {username}, 'state', 'locked', 'followers', {followers} - 3,
            'interactions', jsonb_build_object('posts', 0, 'reposts', 0, 'comments', 1,
                'likes', 0, 'follows', 0, 'messages', 0), 'fetched_at', {decided}),
        'baseline', jsonb_build_object('username', {username}, 'user_id', {username},
            'followers', {followers}, 'interactions', jsonb_build_object('posts', 0,
                'reposts', 0, 'comments', 0, 'likes', 0, 'follows', 0, 'messages', 0)),
        'interactions', jsonb_build_object('deltas', jsonb_build_object('posts', 0,
            'reposts', 0, 'comments', 1, 'likes', 0, 'follows', 0, 'messages', 0),
            'total', 1, 'complete', true),
        'order_placed_at', {placed}, 'order_age_seconds', 172800,
        'password_change_warning', false, 'follower_drop_window_days', 7,
        'status_service', jsonb_build_object('attempts', 1, 'elapsed_ms', 23))"""


def dataset_build(*, scale: float, now: datetime, log: bool = False) -> Dataset:
    """Fill the (migrated, empty) database. Returns the ids the page benchmark visits."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from inventory.crypto import Credentials, credentials_seal

    s = Sizes.at(scale)
    ds = Dataset(scale=scale, sizes=s)
    started = time.perf_counter()
    user_model = get_user_model()
    admin = user_model.objects.create_superuser("bench-admin", "admin@example.com", "x")
    agents = [
        user_model.objects.create_user(f"agent{i}", f"agent{i}@example.com", "x", is_staff=True)
        for i in range(1, 4)
    ]
    ds.superuser_id = admin.pk
    agent = agents[0].pk
    sealed = credentials_seal(
        Credentials(password="hunter2-long-password", email="mail@example.com", notes="n" * 40)
    )
    no, nl = s.orders, s.lines
    big_order, big_line = no + 1, nl + 1
    big_first_account = s.sold_accounts + 1

    steps: list[tuple[str, str, list[object]]] = [
        (
            "products",
            f"""INSERT INTO inventory_product (id, sku, name, platform, active, claim_window_days,
                    follower_drop_window_days, created_at)
                SELECT p, 'SKU-' || p, 'Product ' || p, (%s::text[])[1 + (p - 1) % 8],
                       true, 30, 7, %s
                  FROM generate_series(1, {PRODUCTS}) p""",
            [list(PLATFORMS), now],
        ),
        (
            "import batches",
            f"""INSERT INTO inventory_importbatch (id, kind, filename, sha256, rows_total,
                    rows_created, rows_skipped, created_at, actor_id)
                SELECT b, CASE WHEN b % 2 = 0 THEN 'stock' ELSE 'orders' END,
                       'import-' || b || '.csv', md5(b::text) || md5((b + 1)::text),
                       5000, 4900, 100, %s - b * interval '3 days', %s
                  FROM generate_series(1, {IMPORT_BATCHES}) b""",
            [now, admin.pk],
        ),
        (
            "orders",
            f"""INSERT INTO orders_order (id, order_id, email, placed_at, created_at,
                    import_batch_id)
                SELECT i, 'SH' || lpad(i::text, 7, '0'), 'customer' || i || '@example.com',
                       %s - ((i * 7919) % 525600) * interval '1 minute' - interval '1 day',
                       %s, 1 + i % {IMPORT_BATCHES}
                  FROM generate_series(1, {no}) i
                UNION ALL
                SELECT {big_order}, 'SHBIG1000', 'bulk-buyer@example.com',
                       %s - interval '2 days', %s, 1""",
            [now, now, now, now],
        ),
        (
            "order lines",
            f"""INSERT INTO orders_orderline (id, order_id, product_id, quantity)
                SELECT 2 * i - 1, i, 1 + (2 * i) % {PRODUCTS}, 1
                  FROM generate_series(1, {s.two_line_orders}) i
                UNION ALL
                SELECT 2 * i, i, 1 + (2 * i + 1) % {PRODUCTS}, 1
                  FROM generate_series(1, {s.two_line_orders}) i
                UNION ALL
                SELECT {s.two_line_orders} + i, i, 1 + i % {PRODUCTS}, 1
                  FROM generate_series({s.two_line_orders + 1}, {no}) i
                UNION ALL
                SELECT {big_line}, {big_order}, 1, {BIG_ACCOUNTS}""",
            [],
        ),
        (
            "sold accounts",
            f"""INSERT INTO inventory_account (id, product_id, platform, username,
                    platform_user_id, credentials_sealed, supplier, baseline_followers,
                    baseline_posts, baseline_reposts, baseline_comments, baseline_likes,
                    baseline_follows, baseline_messages, state, line_id, delivered_at,
                    delivery_kind, import_batch_id, created_at)
                SELECT l.id, l.product_id, p.platform, 'user_' || l.id, (10000000 + l.id)::text,
                       %s, 'supplier-' || (l.id % 12), 100 + l.id % 900, 0, 0, l.id % 2, 0, 0, 0,
                       'delivered', l.id, o.placed_at, 'sale', 1 + l.id % {IMPORT_BATCHES}, %s
                  FROM orders_orderline l
                  JOIN orders_order o ON o.id = l.order_id
                  JOIN inventory_product p ON p.id = l.product_id
                 WHERE l.id <= {s.sold_accounts}
                UNION ALL
                SELECT {s.sold_accounts} + k, 1, 'instagram', 'bulk_' || k, (90000000 + k)::text,
                       %s, 'supplier-bulk', 250, 0, 0, 0, 0, 0, 0, 'delivered', {big_line},
                       %s - interval '2 days', 'sale', 1, %s
                  FROM generate_series(1, {BIG_ACCOUNTS}) k""",
            [sealed, now, sealed, now, now],
        ),
        (
            "requests",
            f"""INSERT INTO compensation_compensationrequest (id, order_id, email, reason,
                    password_change_warning, requested_skus, status, received_at, decided_at)
                SELECT md5('req-' || j)::uuid, j, o.email, 'The account got locked two days ' ||
                       'after delivery, I only logged in once.', j % 17 = 0, '[]'::jsonb,
                       CASE WHEN j % 100 = 99 THEN 'checking' ELSE 'decided' END,
                       o.placed_at + interval '12 hours',
                       CASE WHEN j % 100 = 99 THEN NULL
                            ELSE o.placed_at + interval '12 hours 5 minutes' END
                  FROM generate_series(1, {s.requests}) j JOIN orders_order o ON o.id = j
                UNION ALL
                SELECT md5('req-big10')::uuid, {big_order}, 'bulk-buyer@example.com',
                       'Ten of them are locked.', false, '[]'::jsonb, 'decided',
                       %s - interval '1 day', %s - interval '1 day'
                UNION ALL
                SELECT md5('req-big1000')::uuid, {big_order}, 'bulk-buyer@example.com',
                       'All of them are locked now.', false, '[]'::jsonb, 'decided',
                       %s - interval '2 hours', %s - interval '1 hour'""",
            [now, now, now, now],
        ),
        (
            "claims",
            # Claim d of request j: d = 2j-1 and 2j for the first two_claim_requests requests
            # (both lines), d = two_claim + j (first line) for the others. Claim d is on line
            # 2j-1 / 2j, whose sold account has the line's id.
            f"""DROP TABLE IF EXISTS bench_claim, bench_decision;
                CREATE TEMP TABLE bench_claim AS
                SELECT 2 * j - 1 AS d, j, 2 * j - 1 AS line FROM generate_series(1,
                       {s.two_claim_requests}) j
                UNION ALL SELECT 2 * j, j, 2 * j FROM generate_series(1,
                       {s.two_claim_requests}) j
                UNION ALL SELECT {s.two_claim_requests} + j, j, 2 * j - 1
                  FROM generate_series({s.two_claim_requests + 1}, {s.requests}) j;
                CREATE TEMP TABLE bench_decision AS
                SELECT c.d, c.j, c.line, md5('req-' || c.j)::uuid AS request_id,
                       r.received_at, o.placed_at, (r.status = 'checking') AS r_checking
                  FROM bench_claim c
                  JOIN compensation_compensationrequest r ON r.id = md5('req-' || c.j)::uuid
                  JOIN orders_order o ON o.id = c.j;
                ALTER TABLE bench_decision ADD COLUMN decision text, ADD COLUMN rule text;
                UPDATE bench_decision SET decision = {_DECISION}, rule = {_RULE};
                INSERT INTO compensation_lineclaim (id, request_id, line_id, refusal,
                       refusal_detail, uses_compensation)
                SELECT d, request_id, line, '', '{{}}'::jsonb,
                       decision IN ('approved', 'manual_review', 'pending')
                  FROM bench_decision
                UNION ALL
                SELECT {s.decisions} + 1, md5('req-big10')::uuid, {big_line}, '', '{{}}', false
                UNION ALL
                SELECT {s.decisions} + 2, md5('req-big1000')::uuid, {big_line}, '', '{{}}',
                       true""",
            [],
        ),
        (
            "batches",
            f"""INSERT INTO compensation_replacementbatch (id, line_id, product_id, request_id,
                    quantity, state, approved_at, delivered_at, unavailable_notified_at,
                    approved_by_id)
                SELECT b.d, b.line, l.product_id, b.request_id, 1,
                       CASE WHEN b.d % 3 = 0 THEN 'waiting' ELSE 'delivered' END,
                       b.received_at + interval '5 minutes',
                       CASE WHEN b.d % 3 = 0 THEN NULL
                            ELSE b.received_at + interval '1 hour' END,
                       CASE WHEN b.d % 3 = 0 THEN b.received_at + interval '5 minutes' END,
                       CASE WHEN b.d % 7 = 0 THEN %s END
                  FROM bench_decision b JOIN orders_orderline l ON l.id = b.line
                 WHERE b.decision = 'approved'
                UNION ALL
                SELECT {s.decisions} + 1, {big_line}, 1, md5('req-big1000')::uuid,
                       {BIG_APPROVED}, 'waiting', %s - interval '1 hour', NULL,
                       %s - interval '1 hour', NULL""",
            [agent, now, now],
        ),
        (
            "decisions",
            f"""INSERT INTO compensation_accountdecision (id, request_id, claim_id, account_id,
                    decision, rule, interactions, evidence, decided_at, check_attempts,
                    next_check_at, review_requested_at, reviewed, reviewed_by_id, reviewed_at,
                    review_note, customer_message, claimed_by_id, claimed_until, batch_id)
                SELECT d, request_id, d, line, decision, rule,
                       CASE WHEN decision = 'pending' THEN NULL ELSE d % 3 END,
                       CASE WHEN decision = 'pending' THEN '{{}}'::jsonb ELSE
                       {
                _evidence(
                    "rule", "placed_at", "received_at", "'user_' || line", "(100 + line % 900)"
                )
            } END,
                       CASE WHEN decision = 'pending' THEN NULL
                            ELSE received_at + interval '1 minute' END,
                       1, NULL,
                       CASE WHEN decision = 'manual_review' OR (decision = 'rejected'
                                 AND d % 10 = 0) THEN received_at + interval '1 minute' END,
                       decision = 'rejected' AND d % 10 = 0,
                       CASE WHEN decision = 'rejected' AND d % 10 = 0 THEN %s END,
                       CASE WHEN decision = 'rejected' AND d % 10 = 0
                            THEN received_at + interval '3 hours' END,
                       '', CASE WHEN decision = 'rejected' AND d % 10 = 0
                                THEN 'The account shows activity after delivery.' ELSE '' END,
                       CASE WHEN decision = 'manual_review' AND d % 5 = 0 THEN %s END,
                       CASE WHEN decision = 'manual_review' AND d % 5 = 0
                            THEN %s + interval '10 minutes' END,
                       CASE WHEN decision = 'approved' THEN d END
                  FROM bench_decision""",
            [agent, agent, now],
        ),
        (
            "decisions of the 1,000-account order",
            f"""INSERT INTO compensation_accountdecision (id, request_id, claim_id, account_id,
                    decision, rule, interactions, evidence, decided_at, check_attempts,
                    review_requested_at, reviewed, review_note, customer_message, batch_id)
                SELECT {s.decisions} + k, md5('req-big10')::uuid, {s.decisions} + 1,
                       {big_first_account} + k - 1, 'rejected', 'appears_active', 0,
                       {_evidence("'appears_active'", "%s", "%s", "'bulk_' || k", "250")},
                       %s - interval '1 day', 1, NULL, false, '', '', NULL
                  FROM generate_series(1, {SMALL_REQUEST_DECISIONS}) k
                UNION ALL
                SELECT {s.decisions} + {SMALL_REQUEST_DECISIONS} + k, md5('req-big1000')::uuid,
                       {s.decisions} + 2, {big_first_account} + k - 1,
                       CASE WHEN k <= {BIG_APPROVED} THEN 'approved'
                            WHEN k <= {BIG_APPROVED + BIG_MANUAL} THEN 'manual_review'
                            ELSE 'rejected' END,
                       CASE WHEN k <= {BIG_APPROVED} THEN 'locked_no_interaction'
                            WHEN k <= {BIG_APPROVED + BIG_MANUAL} THEN 'profile_not_found'
                            ELSE 'multiple_interactions' END, k % 3,
                       {_evidence("'locked_no_interaction'", "%s", "%s", "'bulk_' || k", "250")},
                       %s - interval '1 hour', 1,
                       CASE WHEN k > {BIG_APPROVED} AND k <= {BIG_APPROVED + BIG_MANUAL}
                            THEN %s - interval '1 hour' END, false, '', '',
                       CASE WHEN k <= {BIG_APPROVED} THEN {s.decisions} + 1 END
                  FROM generate_series(1, {BIG_ACCOUNTS}) k""",
            [now] * 9,
        ),
        (
            "replacement accounts",
            f"""INSERT INTO inventory_account (id, product_id, platform, username,
                    platform_user_id, credentials_sealed, supplier, baseline_followers,
                    state, line_id, delivered_at, delivery_kind, replacement_batch_id,
                    import_batch_id, created_at)
                SELECT {big_first_account + BIG_ACCOUNTS - 1} + row_number() OVER (ORDER BY b.id),
                       b.product_id, p.platform, 'repl_' || b.id, (20000000 + b.id)::text, %s,
                       'supplier-' || (b.id % 12), 300, 'delivered', b.line_id, b.delivered_at,
                       'compensation', b.id, 1 + b.id % {IMPORT_BATCHES}, %s
                  FROM compensation_replacementbatch b
                  JOIN inventory_product p ON p.id = b.product_id
                 WHERE b.state = 'delivered'""",
            [sealed, now],
        ),
        (
            "stock",
            f"""INSERT INTO inventory_account (id, product_id, platform, username,
                    platform_user_id, credentials_sealed, supplier, baseline_followers,
                    baseline_posts, baseline_reposts, baseline_comments, baseline_likes,
                    baseline_follows, baseline_messages, state, delivery_kind,
                    import_batch_id, created_at)
                SELECT base.m + i, 1 + i % {PRODUCTS}, p.platform, 'stock_' || i,
                       (30000000 + i)::text, %s, 'supplier-' || (i % 12), 100 + i % 900,
                       0, 0, 0, 0, 0, 0, 'in_stock', '', 1 + i % {IMPORT_BATCHES}, %s
                  FROM (SELECT max(id) AS m FROM inventory_account) base,
                       generate_series(1, {s.in_stock}) i
                  JOIN inventory_product p ON p.id = 1 + i % {PRODUCTS}""",
            [sealed, now],
        ),
        (
            "notifications",
            # Sent, but one e-mail in 500 failed for good (the "E-mail failed" filter).
            """INSERT INTO compensation_notification (key, kind, "to", order_id, request_id,
                    created_at, state, attempts, sent_at, failed_at, last_error)
                SELECT key, kind, "to", order_id, request_id, created_at,
                       CASE WHEN failed THEN 'failed' ELSE 'sent' END, 1,
                       CASE WHEN failed THEN NULL ELSE created_at + interval '10 seconds' END,
                       CASE WHEN failed THEN created_at + interval '1 hour' END,
                       CASE WHEN failed THEN '550 mailbox unavailable' ELSE '' END
                  FROM (
                    SELECT 'request_received:' || r.id AS key, 'request_received' AS kind,
                           r.email AS "to", r.order_id, r.id AS request_id,
                           r.received_at AS created_at,
                           abs(hashtext(r.id::text)) % 500 = 0 AS failed
                      FROM compensation_compensationrequest r
                    UNION ALL
                    SELECT 'delivered:' || b.id, 'delivered', r.email, r.order_id, r.id,
                           b.delivered_at, false
                      FROM compensation_replacementbatch b
                      JOIN compensation_compensationrequest r ON r.id = b.request_id
                     WHERE b.state = 'delivered') AS mails""",
            [],
        ),
        (
            "order links",
            f"""INSERT INTO orders_orderlink (order_id, token_hash, created_at, expires_at,
                    revoked_at)
                SELECT i, md5('link' || i) || md5('knil' || i), o.placed_at + interval '1 hour',
                       o.placed_at + interval '15 days',
                       CASE WHEN i % 50 = 0 THEN o.placed_at + interval '3 days' END
                  FROM generate_series(1, {no}, 5) i JOIN orders_order o ON o.id = i""",
            [],
        ),
        (
            "events (structured)",
            """INSERT INTO orders_event (at, kind, order_id, account_id, request_id, batch_id,
                    message, data, actor_id)
                SELECT placed_at, 'order_imported', id, NULL::bigint, NULL::uuid, NULL::bigint, '',
                       jsonb_build_object('lines', 1), NULL::integer FROM orders_order
                UNION ALL
                SELECT a.delivered_at, 'accounts_delivered', l.order_id, a.id, NULL, NULL,
                       'delivered as sale', jsonb_build_object('line_id', a.line_id), NULL
                  FROM inventory_account a JOIN orders_orderline l ON l.id = a.line_id
                 WHERE a.delivery_kind = 'sale'
                UNION ALL
                SELECT received_at, 'request_received', order_id, NULL, id, NULL, '',
                       jsonb_build_object('skus', '[]'::jsonb), NULL
                  FROM compensation_compensationrequest
                UNION ALL
                SELECT d.decided_at, 'account_decided', r.order_id, d.account_id, d.request_id,
                       NULL, d.rule, jsonb_build_object('decision', d.decision, 'rule', d.rule),
                       d.reviewed_by_id
                  FROM compensation_accountdecision d
                  JOIN compensation_compensationrequest r ON r.id = d.request_id
                 WHERE d.decided_at IS NOT NULL
                UNION ALL
                SELECT b.approved_at, 'batch_created', l.order_id, NULL, b.request_id, b.id,
                       'replacement batch', jsonb_build_object('quantity', b.quantity),
                       b.approved_by_id
                  FROM compensation_replacementbatch b
                  JOIN orders_orderline l ON l.id = b.line_id
                UNION ALL
                SELECT b.delivered_at, 'batch_delivered', l.order_id, NULL, b.request_id, b.id,
                       '1 replacement account(s) delivered',
                       jsonb_build_object('line_id', b.line_id), NULL
                  FROM compensation_replacementbatch b
                  JOIN orders_orderline l ON l.id = b.line_id
                 WHERE b.state = 'delivered'""",
            [],
        ),
        (
            "events (e-mails, up to the total)",
            f"""INSERT INTO orders_event (at, kind, order_id, request_id, message, data)
                SELECT o.placed_at + interval '3 days', 'email_sent', o.id, NULL::uuid, '',
                       jsonb_build_object('kind', 'request_received', 'notification_id', i)
                  FROM (SELECT {s.events} - count(*) AS missing FROM orders_event) m,
                       generate_series(1, {s.events}) i
                  JOIN orders_order o ON o.id = 1 + i % {no}
                 WHERE i <= m.missing""",
            [],
        ),
        ("drop the work tables", "DROP TABLE bench_claim, bench_decision", []),
        (
            "canned reasons",
            """INSERT INTO compensation_cannedreason (text, active, created_at)
                SELECT 'Canned reason number ' || i || ': activity after delivery.', i % 4 <> 0,
                       %s FROM generate_series(1, 12) i""",
            [now],
        ),
    ]
    with connection.cursor() as cursor:
        for name, sql, params in steps:
            begun = time.perf_counter()
            # Without parameters the driver sends the text as-is: several statements at once,
            # and `%` stays the modulo operator.
            cursor.execute(_inline(sql, params))
            if log:
                print(f"    {name:<40} {time.perf_counter() - begun:6.1f} s", flush=True)
        for table in (
            "inventory_product",
            "inventory_importbatch",
            "inventory_account",
            "orders_order",
            "orders_orderline",
            "compensation_lineclaim",
            "compensation_replacementbatch",
            "compensation_accountdecision",
        ):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        begun = time.perf_counter()
        cursor.execute("ANALYZE")
        if log:
            print(f"    {'ANALYZE':<40} {time.perf_counter() - begun:6.1f} s", flush=True)
        ds.counts = _counts(cursor)
        ds.ids = _ids(cursor, s)
    ds.seconds = time.perf_counter() - started
    return ds


def _literal(value: object) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(_literal(v) for v in value) + "]"
    text = str(value).replace("'", "''")
    return f"'{text}'"


def _inline(sql: str, params: list[object]) -> str:
    """Our own constants (dates, ids, one sealed token) as SQL literals, in order."""
    values = iter(params)
    result = re.sub(r"%s", lambda _m: _literal(next(values)), sql)
    if next(values, None) is not None:
        raise ValueError("more parameters than placeholders")
    return result


def _counts(cursor: Any) -> dict[str, int]:
    queries = {
        "orders": "SELECT count(*) FROM orders_order",
        "lines": "SELECT count(*) FROM orders_orderline",
        "accounts": "SELECT count(*) FROM inventory_account",
        "in stock": "SELECT count(*) FROM inventory_account WHERE state = 'in_stock'",
        "requests": "SELECT count(*) FROM compensation_compensationrequest",
        "decisions": "SELECT count(*) FROM compensation_accountdecision",
        "waiting for a person": (
            "SELECT count(*) FROM compensation_accountdecision WHERE decision = 'manual_review'"
        ),
        "batches": "SELECT count(*) FROM compensation_replacementbatch",
        "batches waiting": (
            "SELECT count(*) FROM compensation_replacementbatch WHERE state = 'waiting'"
        ),
        "events": "SELECT count(*) FROM orders_event",
        "notifications": "SELECT count(*) FROM compensation_notification",
        "order links": "SELECT count(*) FROM orders_orderlink",
    }
    result = {}
    for name, sql in queries.items():
        cursor.execute(sql)
        result[name] = int(cursor.fetchone()[0])
    return result


def _ids(cursor: Any, s: Sizes) -> dict[str, Any]:
    """Typical objects staff open, and the search terms they type."""

    def one(sql: str) -> Any:
        cursor.execute(sql)
        row = cursor.fetchone()
        return row[0] if row else None

    middle = max(1, s.requests // 2)
    return {
        "order": middle,
        "order_ref": _order_ref(middle),
        "order_email": f"customer{middle}@example.com",
        "big_order": s.orders + 1,
        "request": one(f"SELECT md5('req-{middle}')::uuid"),
        "request_10": one("SELECT md5('req-big10')::uuid"),
        "request_1000": one("SELECT md5('req-big1000')::uuid"),
        "review_case": one(
            "SELECT id FROM compensation_accountdecision WHERE decision = 'manual_review' "
            "AND claimed_by_id IS NULL ORDER BY review_requested_at, id LIMIT 1"
        ),
        "decided_case": one(
            "SELECT id FROM compensation_accountdecision WHERE decision = 'approved' "
            "ORDER BY id LIMIT 1"
        ),
        "account": one("SELECT id FROM inventory_account WHERE delivery_kind = 'sale' LIMIT 1"),
        "account_username": f"user_{middle * 2}",
        "stock_account": one(
            "SELECT id FROM inventory_account WHERE state = 'in_stock' ORDER BY id LIMIT 1"
        ),
        "batch": one(
            "SELECT id FROM compensation_replacementbatch WHERE state = 'delivered' LIMIT 1"
        ),
        "product": 1,
        "import_batch": 1,
        "event": one("SELECT max(id) FROM orders_event"),
        "order_link": one("SELECT min(id) FROM orders_orderlink"),
        "canned_reason": one("SELECT min(id) FROM compensation_cannedreason"),
        "rule": "appears_active",
        "supplier": "supplier-3",
    }
