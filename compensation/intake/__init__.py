"""Requests by e-mail (docs/email-intake.md; for shop owners: docs/email-intake.md).

- `parsing`: raw message bytes -> `ParsedMessage` (headers, sender, text from plain or HTML parts,
  charsets decoded); and whether a mail is automatic or our own (never answered). Pure.
- `understanding`: order-id candidates, "change password" wording, the reason. Pure.
- `imap`: the IMAP client (stdlib imaplib): connect from IMAP_URL, list new mail, fetch, mark.
- `service`: record a message, act on it once (submit + decide the reply in one transaction),
  poll the mailbox; staff closing messages by hand.
- `replies`: the threaded reply (an outbox on the message row), sent after commit.
- `tasks`: the django-q2 entry points.
"""
