"""What a receiver gets: the event body and its signature (docs/storefront.md, docs/storefront.md).

X-Signature is "sha256=" + hex HMAC-SHA256, keyed with the endpoint's secret, of
"<X-Webhook-Timestamp>.<raw body>"; the timestamp (unix seconds) is signed so a captured
delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import Any


def event_body(
    *, event_id: uuid.UUID, event_type: str, created_at: datetime, request: dict[str, Any]
) -> str:
    """{"id", "type", "created_at", "data": {"request": <the request as in the JSON API>}}."""
    return json.dumps(
        {
            "id": str(event_id),
            "type": event_type,
            "created_at": created_at.isoformat().replace("+00:00", "Z"),
            "data": {"request": request},
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signed_headers(*, secret: str, event_id: str, timestamp: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Webhook-Id": event_id,
        "X-Webhook-Timestamp": timestamp,
        "X-Signature": signature(secret=secret, timestamp=timestamp, body=body),
    }
