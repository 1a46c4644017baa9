"""A task for the cluster benchmark's anchor: one status call and nothing else (no database),
queued and run through the same django-q2 cluster and broker as the real tasks."""

from __future__ import annotations

import requests

_session = requests.Session()


def status_call_only(base_url: str, username: str) -> int:
    response = _session.get(f"{base_url}/v1/profiles/instagram/{username}", timeout=(2, 5))
    response.json()
    return response.status_code
