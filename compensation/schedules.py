"""Recurring django-q2 schedules, created/updated by name with `manage.py setup_schedules`."""

from __future__ import annotations

from typing import TypedDict


class ScheduleSpec(TypedDict):
    name: str
    func: str
    minutes: int


SCHEDULES: list[ScheduleSpec] = [
    # Unverified accounts whose back-off has elapsed are checked again.
    {"name": "recheck-unverified", "func": "compensation.tasks.recheck_due", "minutes": 1},
    # Safety net: waiting batches are retried even if a wake-up was missed or lost.
    {"name": "fulfilment-sweep", "func": "compensation.tasks.fulfil_sweep", "minutes": 5},
    # Review claims whose time ran out are released.
    {
        "name": "expire-review-claims",
        "func": "compensation.tasks.expire_review_claims",
        "minutes": 5,
    },
    # E-mails whose send task was lost are queued again.
    {
        "name": "send-unsent-notifications",
        "func": "compensation.tasks.send_unsent_notifications",
        "minutes": 5,
    },
    # Requests whose check task was lost (a killed worker) are checked again.
    {
        "name": "resume-stalled-checks",
        "func": "compensation.tasks.resume_stalled_checks",
        "minutes": 5,
    },
    # The task cluster's heartbeat read by /healthz (HEALTH_CLUSTER_MAX_AGE).
    {
        "name": "cluster-heartbeat",
        "func": "compensation.health.tasks.cluster_heartbeat",
        "minutes": 1,
    },
    # Requests by e-mail: new mail in the support mailbox (IMAP_URL; does nothing when unset).
    {"name": "poll-mailbox", "func": "compensation.intake.tasks.poll_mailbox", "minutes": 1},
    # Webhook deliveries whose back-off elapsed (or whose send task was lost) are sent again;
    # endpoints failing longer than WEBHOOK_PAUSE_AFTER are paused.
    {"name": "webhooks-sweep", "func": "compensation.webhooks.tasks.webhooks_sweep", "minutes": 1},
]
