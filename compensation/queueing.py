"""The one way to queue a background task: after the current transaction commits.

Services never call django-q directly: `enqueue_on_commit(tasks.fulfil_product, product_id)`
queues the task once the writing transaction has committed (at once in autocommit), so a worker
never reads rows that are not there yet and a rolled-back change queues nothing. Tasks take ids,
never secrets (their arguments are readable in the queue tables).

The task is handed to django-q by its dotted path (what the queue tables show); taking the
function itself keeps callers honest (a renamed task breaks at import, not in a worker). Tests
replace `async_task` in this module, the one place where tasks leave the process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django_q.tasks import async_task


def task_path(task: Callable[..., Any]) -> str:
    """The importable dotted path of a module-level task function."""
    path = f"{task.__module__}.{task.__qualname__}"
    if "<" in path or "." in task.__qualname__:
        raise ValueError(f"{path} is not a module-level function; a worker could not import it")
    return path


def enqueue_on_commit(
    task: Callable[..., Any], *args: Any, task_name: str | None = None, robust: bool = False
) -> None:
    """Queue `task(*args)` for the task cluster after the current transaction commits.

    `robust=True` for a task that a sweep also covers: a broker that refuses it is logged by
    Django and does not surface as an error of the (already committed) work."""
    path = task_path(task)
    options = {"task_name": task_name} if task_name else {}

    def _queue() -> None:
        async_task(path, *args, **options)

    transaction.on_commit(_queue, robust=robust)
