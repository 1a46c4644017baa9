"""Bench-only: count the tasks the cluster's workers run, by function, in the benchmark's Redis
database (`BENCH_TASKS_REDIS_URL`). Connected to django-q2's `post_execute_in_worker` signal (a
task has finished) in every worker; the benchmark reads and resets the counters (`task_counts`,
`task_counts_reset`)."""

from __future__ import annotations

import os
from typing import Any

from django.apps import AppConfig

KEY = "bench:tasks"
_client: Any = None


def _redis() -> Any:
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(os.environ["BENCH_TASKS_REDIS_URL"])
    return _client


def _count(sender: Any, func: Any, task: dict[str, Any], **kwargs: Any) -> None:
    """After a task ran (successfully or not), in the worker."""
    name = task.get("func")
    _redis().hincrby(KEY, name if isinstance(name, str) else repr(name), 1)


def task_counts() -> dict[str, int]:
    return {k.decode(): int(v) for k, v in _redis().hgetall(KEY).items()}


def task_counts_reset() -> None:
    _redis().delete(KEY)


class TaskCountingConfig(AppConfig):
    name = "bench"
    label = "bench_task_counting"

    def ready(self) -> None:
        from django_q.signals import post_execute_in_worker

        post_execute_in_worker.connect(_count, dispatch_uid="bench-task-counting")
