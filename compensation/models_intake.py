"""Requests by e-mail: one row per message read from the support mailbox (docs/email-intake.md).

The row is written *before* the desk acts on the message (its unique `message_key` is the claim),
and the action — submitting the request, deciding the reply — is stored on the same row in one
transaction, so a poll that dies half-way and runs again never acts twice. The reply is an outbox
entry on the row: sent after commit, marked sent only once the mail server accepted it.
Only text is kept (truncated); attachments are never stored.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class InboundMessage(models.Model):
    class Outcome(models.TextChoices):
        RECEIVED = "received", "Received, not yet handled"
        REQUEST = "request", "Request submitted"
        NOT_UNDERSTOOD = "not_understood", "No order of the sender found (help sent)"
        IGNORED = "ignored", "Not answered (automatic mail, own mail or loop)"
        RATE_LIMITED = "rate_limited", "Too many mails from the sender (not answered)"
        NEEDS_PERSON = "needs_person", "Left for a person (thread already answered)"
        FAILED = "failed", "Could not be processed"

    class Reply(models.TextChoices):
        NONE = "", "No reply"
        REQUEST_LINK = "request_link", "Link to the request"
        HELP = "help", "What to send"

    # The Message-ID without <>, or "sha256:<hex>" of the header block when it has none.
    message_key = models.CharField(max_length=255, unique=True)
    message_id = models.CharField(max_length=998, blank=True, default="")
    sender = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=998, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True, help_text="The mail's Date header.")
    # When the mail server received it (IMAP INTERNALDATE): the moment a request made from this
    # mail counts as received, so a slow or stopped poll never pushes a customer out of a window.
    arrived_at = models.DateTimeField(help_text="When the mailbox received it.")
    read_at = models.DateTimeField(db_index=True, help_text="When the desk read it.")
    # Message-IDs this mail answers (In-Reply-To, References), to thread the reply.
    thread_ids = models.JSONField(default=list, blank=True)
    size = models.PositiveIntegerField(default=0, help_text="Bytes, as the server reported.")
    truncated = models.BooleanField(default=False, help_text="Larger than IMAP_MAX_MESSAGE_BYTES.")
    attachments = models.PositiveIntegerField(default=0, help_text="Counted, never stored.")
    text = models.TextField(blank=True, default="", help_text="Text only, truncated.")

    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.RECEIVED)
    # Why a mail was not answered: auto_submitted, precedence, mailing_list, bounce, own_address,
    # loop, thread_answered, no_sender, rate_limited.
    skip_reason = models.CharField(max_length=40, blank=True, default="")
    # What the desk read: order id, candidates, warning wording, the reason it submitted.
    understood = models.JSONField(default=dict, blank=True)
    request = models.ForeignKey(
        "compensation.CompensationRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="inbound_messages",
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    handle_attempts = models.PositiveSmallIntegerField(default=0)

    # The reply (an outbox entry): its Message-ID is fixed when decided, so a resend is the same.
    reply_kind = models.CharField(max_length=20, choices=Reply.choices, blank=True, default="")
    reply_to = models.CharField(max_length=254, blank=True, default="")
    reply_message_id = models.CharField(max_length=255, blank=True, default="")
    reply_attempted_at = models.DateTimeField(null=True, blank=True)
    reply_sent_at = models.DateTimeField(null=True, blank=True)

    # Messages a person should look at (not understood, limited, a reply in an answered thread).
    needs_attention = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-arrived_at", "-id"]
        verbose_name = "e-mail received"
        verbose_name_plural = "e-mails received"
        indexes = [
            models.Index(fields=["needs_attention", "arrived_at"], name="inbound_attention_idx"),
            models.Index(
                fields=["reply_sent_at"],
                condition=~Q(reply_kind=""),
                name="inbound_reply_outbox_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome="request", request__isnull=False)
                | ~Q(outcome="request") & Q(request__isnull=True),
                name="inbound_request_iff_submitted",
            ),
            models.CheckConstraint(
                condition=Q(reply_kind="") | ~Q(reply_to="") & ~Q(reply_message_id=""),
                name="inbound_reply_has_address_and_id",
            ),
            models.CheckConstraint(
                condition=Q(reply_sent_at__isnull=True) | ~Q(reply_kind=""),
                name="inbound_only_replies_are_sent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender or '?'}: {self.subject[:60] or '(no subject)'}"
