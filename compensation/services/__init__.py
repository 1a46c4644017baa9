"""Every write of the compensation desk, one module per area:

- requests.py      — submitting a request, running the status checks, applying decisions
- review.py        — the review queue: claims, staff decisions, overrides, re-checks
- fulfilment.py    — replacement batches: first-come first-served drain from stock
- notifications.py — customer e-mails, each sent once per event (after commit)
"""
