"""django-q2 entry point of the heartbeat schedule (thin; safe to run twice)."""

from __future__ import annotations

import socket

from django.utils import timezone

from compensation.health.heartbeat import heartbeat_record


def cluster_heartbeat() -> None:
    heartbeat_record(now=timezone.now(), host=socket.gethostname())
