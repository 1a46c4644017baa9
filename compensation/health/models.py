from __future__ import annotations

from django.db import models


class ClusterHeartbeat(models.Model):
    """When a task cluster last proved it runs tasks (one row per name, written by an upsert)."""

    name = models.CharField(max_length=50, unique=True)
    seen_at = models.DateTimeField()
    # The machine whose worker wrote the beat (for the operator; not shown on /healthz).
    host = models.CharField(max_length=255, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.name} seen {self.seen_at:%Y-%m-%d %H:%M:%S} on {self.host}"
