"""The interaction counters of an account, in the one order used everywhere: the baseline
columns of `Account`, the import columns, the status service's `interactions` object and the
rule engine. Plain Python (no Django), so the pure rule engine can import it too."""

from __future__ import annotations

INTERACTION_KINDS: tuple[str, ...] = (
    "posts",
    "reposts",
    "comments",
    "likes",
    "follows",
    "messages",
)
