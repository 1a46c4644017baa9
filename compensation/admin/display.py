"""How the back office shows times and durations."""

from __future__ import annotations

from datetime import timedelta


def age_display(delta: timedelta | None) -> str:
    """A waiting time as staff read it: "2d 3h", "4h 10m", "7m" ("—" when unknown)."""
    if delta is None:
        return "—"
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"
