"""Encryption of account credentials at rest (Fernet from `cryptography`, rotatable keys).

Credentials are sealed into one token per account (a JSON object), so decrypting needs one
operation and no plaintext ever sits in a column. Tokens are non-deterministic: they can be neither
searched nor made unique; usernames stay in clear for that.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache, partial
from json.encoder import encode_basestring_ascii as _json_string

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables


@dataclass(frozen=True, slots=True)
class Credentials:
    password: str = ""
    email: str = ""
    email_password: str = ""
    two_factor_secret: str = ""
    notes: str = ""

    def __repr__(self) -> str:  # never let a credential slip into a log line or traceback
        return "Credentials(<sealed>)"

    __str__ = __repr__


_FIELDS = tuple(f.name for f in fields(Credentials))


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIALS_ENCRYPTION_KEYS))


def credentials_seal(credentials: Credentials) -> str:
    return _seal(_current(), *(getattr(credentials, name) for name in _FIELDS))


def credentials_sealer() -> Callable[[str, str, str, str, str], str]:
    """`credentials_seal` for an import's million rows: the secrets as arguments (in the order
    of `Credentials`), no object per row, the key looked up once."""
    return partial(_seal, _current())


# The JSON of the credentials, written directly: the very text `json.dumps` writes for the dict
# of `_FIELDS` (tests/test_crypto.py compares them), in a third of its time.
_JSON = "{" + ", ".join(f'"{name}": %s' for name in _FIELDS) + "}"


def _seal(
    fernet: MultiFernet,
    password: str,
    email: str,
    email_password: str,
    two_factor_secret: str,
    notes: str,
) -> str:
    text = _JSON % (
        _json_string(password),
        _json_string(email),
        _json_string(email_password),
        _json_string(two_factor_secret),
        _json_string(notes),
    )
    return fernet.encrypt(text.encode()).decode()


@sensitive_variables("plaintext", "data")
def credentials_open(token: str) -> Credentials:
    try:
        plaintext = _current().decrypt(token.encode())
    except InvalidToken as exc:
        raise ValueError("credentials cannot be decrypted with the configured keys") from exc
    try:
        data = json.loads(plaintext)
        return Credentials(**data)
    except (ValueError, TypeError):
        # `from None`: the decoder's and the constructor's frames hold the plaintext in their
        # locals, and error reports (or an error tracker) print the locals of every frame.
        raise ValueError("decrypted credentials are not in the expected format") from None


def credentials_rotate(token: str) -> str:
    """Re-encrypt a token under the first (newest) key."""
    return _current().rotate(token.encode()).decode()
