"""enqueue_on_commit: the one way services queue a task."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from compensation import tasks
from compensation.queueing import enqueue_on_commit, task_path

pytestmark = pytest.mark.django_db


def test_a_task_is_queued_by_its_dotted_path_only_after_commit(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[tuple[tuple[object, ...], dict[str, object]]] = []
    monkeypatch.setattr("compensation.queueing.async_task", lambda *a, **k: queued.append((a, k)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        enqueue_on_commit(tasks.fulfil_product, 7, task_name="fulfil-7")
        enqueue_on_commit(tasks.send_notification, 3)
    assert queued == []
    for callback in callbacks:
        callback()
    assert queued == [
        (("compensation.tasks.fulfil_product", 7), {"task_name": "fulfil-7"}),
        (("compensation.tasks.send_notification", 3), {}),
    ]


def test_a_rolled_back_transaction_queues_nothing(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[object] = []
    monkeypatch.setattr("compensation.queueing.async_task", lambda *a, **k: queued.append(a))
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue_on_commit(tasks.fulfil_product, 7)
        raise RuntimeError("rolled back")
    assert queued == []


def test_only_module_level_functions_can_be_tasks() -> None:
    def local_task() -> None:
        return None

    assert task_path(tasks.check_request) == "compensation.tasks.check_request"
    with pytest.raises(ValueError, match="not a module-level function"):
        task_path(local_task)
    with pytest.raises(ValueError, match="not a module-level function"):
        task_path(lambda: None)


def test_a_robust_task_that_the_broker_refuses_does_not_fail_the_committed_work(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broker_down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr("compensation.queueing.async_task", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as robust_callbacks:
        enqueue_on_commit(tasks.send_notification, 3, robust=True)
    assert len(robust_callbacks) == 1  # ran, and its error was logged instead of raised

    with (
        pytest.raises(ConnectionError, match="broker down"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        enqueue_on_commit(tasks.send_notification, 3)
