"""Opaque, signed list cursors (the API contract: ``?limit=`` default 50, max 500, and ``?cursor=``).

A cursor is ``base64url(json position) + "." + hmac``; the position is whatever key the
list is ordered by (e.g. ``{"id": 42}``). Signing with ``Settings.secret_key`` makes the
cursor opaque to clients: a cursor that was not issued by the server is a 422 naming
the ``cursor`` field.

Routers use it as::

    after = decode_cursor(cursor, settings.secret_key)
    rows, more = service(..., limit=limit, after=after)
    next_cursor = encode_cursor({"id": rows[-1].id}, settings.secret_key) if more else None
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Annotated, Any

from fastapi import Query

from api.errors import InvalidInputError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

LimitQuery = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1..{MAX_LIMIT} (default {DEFAULT_LIMIT})."),
]
CursorQuery = Annotated[
    str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
]


def _sign(data: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), data, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def encode_cursor(position: dict[str, Any], secret: str) -> str:
    """Encode and sign a list position."""
    data = json.dumps(position, sort_keys=True, separators=(",", ":")).encode("utf-8")
    body = base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
    return f"{body}.{_sign(data, secret)}"


def decode_cursor(cursor: str | None, secret: str) -> dict[str, Any] | None:
    """Return the position of a cursor issued by `encode_cursor`, None for no cursor.

    Raises
    ------
    InvalidInputError
        (422, field ``cursor``) when the cursor is malformed or was not issued here.
    """
    if cursor is None or cursor == "":
        return None
    bad = InvalidInputError(
        "The `cursor` must be a `next_cursor` returned by this list. Got an unknown cursor.",
        field="cursor",
    )
    body, _, signature = cursor.partition(".")
    try:
        data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    # compared as bytes: a forged signature may hold any character
    expected = _sign(data, secret).encode()
    if not signature or not hmac.compare_digest(signature.encode("utf-8", "replace"), expected):
        raise bad
    try:
        position = json.loads(data)
    except ValueError:
        raise bad from None
    if not isinstance(position, dict):
        raise bad
    return position
