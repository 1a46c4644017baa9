"""Every write of the compensation desk, one module per use case:

- submit.py        — submitting a request (line refusals decided now, checks queued)
- checks.py        — checking accounts against the status service, re-checks with back-off
- check_claims.py  — which pending accounts a check task takes (a lease)
- check_judging.py — one answer judged: verdict, the row's next values, its event
- check_store.py   — the judged checks written, one compare-and-set transaction per request
- approval.py      — the approval path: one batch per line, claim usage, request status
- facts.py         — the rule engine's facts read from the database (one place)
- review.py        — the review queue: claims, staff decisions, overrides, re-checks
- fulfilment.py    — replacement batches: first-come first-served drain from stock
- notifications.py — customer e-mails, each sent once per event (after commit)
- roles.py         — staff groups and their permissions
"""
