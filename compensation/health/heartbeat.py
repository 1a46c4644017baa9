"""The task cluster's heartbeat: a timestamp in the database written by a cluster worker.

It is written (1) every minute by the `cluster-heartbeat` schedule, which proves the whole path
works (scheduler -> broker -> a worker -> the database), and (2) whenever a worker process
starts, so a cluster is seen at once after a (re)start instead of ~30 s later (django-q2 runs its
scheduler every 30 s). The database, not the cache, holds it: it is shared by every node whatever
the broker and cache (the local-memory cache of a development setup is per process).

Not an audit event: a heartbeat is operational telemetry, not a change of the desk's state.
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime

from django.db import DatabaseError
from django.utils import timezone

from compensation.health.models import ClusterHeartbeat

logger = logging.getLogger(__name__)

CLUSTER = "cluster"


def heartbeat_record(*, now: datetime, host: str, name: str = CLUSTER) -> None:
    """Upsert the beat (one statement; two clusters beating at once cannot collide)."""
    ClusterHeartbeat.objects.bulk_create(
        [ClusterHeartbeat(name=name, seen_at=now, host=host[:255])],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["seen_at", "host"],
    )


def heartbeat_last(*, name: str = CLUSTER) -> datetime | None:
    return ClusterHeartbeat.objects.filter(name=name).values_list("seen_at", flat=True).first()


def beat_on_worker_start(sender: object = None, proc_name: str = "", **kwargs: object) -> None:
    """django-q2's `post_spawn` signal (in the new worker process). Never stops a worker from
    starting: a failure is logged and the schedule beats a minute later."""
    try:
        heartbeat_record(now=timezone.now(), host=socket.gethostname())
    except DatabaseError:
        logger.warning("cluster heartbeat not recorded at worker start", exc_info=True)
