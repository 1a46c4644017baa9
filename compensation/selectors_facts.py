"""Facts of a customer's view that take their own queries: the place of waiting batches in their
product's queue, and the earlier request holding a refused line's one compensation
(compensation.selectors builds the views from them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from compensation.customer_states import EarlierFacts, EarlierRequest, earlier_outcome
from compensation.models import AccountDecision, LineClaim, ReplacementBatch


def queue_place_sql(batch: str) -> str:
    """SQL for the place of the batch aliased `batch` in its product's first-come, first-served
    queue (1 = next): the waiting batches of its product approved before it, plus one (the FIFO
    index serves the count). Shared by queue_positions() and compensation.selectors_prepared."""
    table = ReplacementBatch._meta.db_table
    waiting = ReplacementBatch.State.WAITING.value
    return f"""1 + (
        SELECT count(*) FROM {table} ahead
         WHERE ahead.product_id = {batch}.product_id AND ahead.state = '{waiting}'
           AND (ahead.approved_at < {batch}.approved_at
                OR (ahead.approved_at = {batch}.approved_at AND ahead.id < {batch}.id)))"""  # noqa: S608 - names from the model


def queue_positions(batches: Iterable[ReplacementBatch]) -> dict[int, int]:
    """Place of each waiting batch in its product's queue, in one query (plain SQL: the ORM
    took longer to build the correlated count than the database to run it)."""
    waiting = sorted({b.id for b in batches if b.state == ReplacementBatch.State.WAITING})
    if not waiting:
        return {}
    marks = ", ".join(["%s"] * len(waiting))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT b.id, {queue_place_sql('b')} FROM {ReplacementBatch._meta.db_table} b"  # noqa: S608 - names from the model, values bound
            f" WHERE b.id IN ({marks})",
            waiting,
        )
        return {batch_id: place for batch_id, place in cursor.fetchall()}


def earlier_facts(claims: Iterable[LineClaim]) -> dict[int, EarlierFacts]:
    """For claims refused as already compensated: the request holding the line's compensation
    now (or, if none does any more, the one that held it when this request was received)."""
    refused = [c for c in claims if c.refusal == LineClaim.Refusal.ALREADY_COMPENSATED]
    if not refused:
        return {}
    line_ids = {c.line_id for c in refused}
    holders = {
        c.line_id: c
        for c in LineClaim.objects.filter(line_id__in=line_ids, uses_compensation=True)
        .select_related("request")
        .order_by("id")
    }
    chosen: dict[int, LineClaim | None] = {}
    for claim in refused:
        holder = holders.get(claim.line_id)
        if holder is None or holder.request_id == claim.request_id:
            holder = _recorded_earlier(claim)
        chosen[claim.id] = holder
    decisions: dict[int, list[str]] = defaultdict(list)
    for claim_id, decision in AccountDecision.objects.filter(
        claim_id__in=[h.pk for h in chosen.values() if h is not None]
    ).values_list("claim_id", "decision"):
        decisions[claim_id].append(decision)
    result: dict[int, EarlierFacts] = {}
    for claim_id, holder in chosen.items():
        if holder is None:
            result[claim_id] = EarlierFacts(None, None, EarlierRequest.USED)
            continue
        result[claim_id] = EarlierFacts(
            request_id=holder.request_id,
            received_at=holder.request.received_at,
            outcome=earlier_outcome(
                decisions=decisions[holder.pk], still_uses_line=holder.uses_compensation
            ),
        )
    return result


def _recorded_earlier(claim: LineClaim) -> LineClaim | None:
    detail = claim.refusal_detail or {}
    earlier = LineClaim.objects.select_related("request").filter(line_id=claim.line_id)
    if detail.get("earlier_request_id"):
        return earlier.filter(request_id=detail["earlier_request_id"]).first()
    received = detail.get("earlier_request_received_at")
    if not received:
        return None
    try:
        moment = datetime.fromisoformat(str(received))
    except ValueError:
        return None
    return earlier.filter(request__received_at=moment).first()
