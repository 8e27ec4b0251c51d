"""API keys: generated once, stored as a SHA-256 hash, looked up by prefix.

A key reads ``dfk_<prefix>_<secret>``: ``prefix`` (8 hex characters) is stored in
clear to find the row, the whole key is hashed with SHA-256 and compared in
constant time. The secret itself is never stored: whoever reads the database
cannot authenticate. Keys are high-entropy random strings (256 bits), so an
unsalted fast hash is sufficient (no password-style stretching is needed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import event as sa_event
from sqlmodel import Field, Session, SQLModel, select

from models.db import utc_now

ROLES = ("admin", "registrar", "bank", "fund_manager", "risk")
"""Roles of the API contract."""

KEY_SCHEME = "dfk"
PREFIX_HEX_CHARS = 8


class ApiKeyBase(SQLModel):
    role: str = Field(max_length=20)
    tenant: str = Field(index=True, max_length=80)
    label: str | None = Field(default=None, max_length=200)


class ApiKey(ApiKeyBase, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(unique=True, max_length=16)
    key_hash: str = Field(unique=True, min_length=64, max_length=64)
    created_at: datetime = Field(default_factory=utc_now)
    revoked: bool = Field(default=False)
    revoked_at: datetime | None = Field(default=None)


class ApiKeyPublic(ApiKeyBase):
    id: int
    prefix: str
    created_at: datetime
    revoked: bool


def hash_key(plain: str) -> str:
    """SHA-256 of the whole key, lower-case hex."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    """Compare two strings without leaking where they differ."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def generate_key() -> tuple[str, str, str]:
    """Make a new key.

    Returns
    -------
    (plain, prefix, key_hash)
        ``plain`` is shown to the user once and never stored.
    """
    prefix = secrets.token_hex(PREFIX_HEX_CHARS // 2)
    secret = secrets.token_urlsafe(32)
    plain = f"{KEY_SCHEME}_{prefix}_{secret}"
    return plain, prefix, hash_key(plain)


def key_prefix(plain: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    parts = plain.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or len(parts[1]) != PREFIX_HEX_CHARS:
        return None
    return parts[1]


def check_role(role: str) -> str:
    """Return ``role`` if it is one of :data:`ROLES`, else raise ValueError."""
    if role not in ROLES:
        raise ValueError(
            f"The `role` of an API key must be one of {', '.join(ROLES)}. Got {role!r}."
        )
    return role


def create_api_key(
    session: Session, *, role: str, tenant: str, label: str | None = None, actor: str = "cli"
) -> tuple[str, ApiKey]:
    """Add a key to the session and audit its creation (the caller commits); return
    ``(plain, row)``. The audit entry names the key's id, prefix, role and tenant, never
    the secret."""
    from models.audit import record_audit

    check_role(role)
    if not tenant or not tenant.strip():
        raise ValueError("The `tenant` of an API key must be a non-empty string. Got an empty one.")
    plain, prefix, digest = generate_key()
    row = ApiKey(role=role, tenant=tenant.strip(), label=label, prefix=prefix, key_hash=digest)
    session.add(row)
    session.flush()
    record_audit(
        session,
        actor=actor,
        tenant=row.tenant,
        action="api_key.create",
        entity="api_key",
        entity_id=str(row.id),
        payload={"prefix": prefix, "role": role, "label": label},
    )
    return plain, row


def list_api_keys(
    session: Session, *, tenant: str, limit: int, after_id: int | None = None
) -> tuple[list[ApiKey], bool]:
    """A tenant's keys by id (revoked ones included), one page; ``more`` when another follows."""
    query = select(ApiKey).where(ApiKey.tenant == tenant)
    if after_id is not None:
        query = query.where(ApiKey.id > after_id)  # type: ignore[operator]
    rows = list(session.exec(query.order_by(ApiKey.id).limit(limit + 1)).all())  # type: ignore[arg-type]
    return rows[:limit], len(rows) > limit


def authenticate(session: Session, plain: str) -> ApiKey | None:
    """The active key row matching ``plain``, or None (unknown, malformed or revoked)."""
    prefix = key_prefix(plain)
    if prefix is None:
        return None
    row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if row is None or row.revoked:
        return None
    if not constant_time_equals(row.key_hash, hash_key(plain)):
        return None
    return row


#: Called with a key's id when it is revoked, then again after the revoking transaction
#: commits (the HTTP shell registers `api.auth_cache.invalidate` here: cached principals of
#: the key are dropped, so a revoked key is refused at once).
on_revoke: list[Callable[[int], None]] = []


def _notify_revoked(session: Session, key_id: int) -> None:
    for listener in list(on_revoke):
        listener(key_id)

    def after_commit(_session: Session) -> None:
        for listener in list(on_revoke):
            listener(key_id)

    sa_event.listen(session, "after_commit", after_commit, once=True)


def revoke_api_key(
    session: Session, key_id: int, *, actor: str = "cli", tenant: str | None = None
) -> ApiKey | None:
    """Mark a key revoked and audit it (the caller commits); None if there is no such key
    (or, with ``tenant``, none of that tenant's). Revoking a revoked key changes nothing."""
    from models.audit import record_audit

    row = session.get(ApiKey, key_id)
    if row is None or (tenant is not None and row.tenant != tenant):
        return None
    if not row.revoked:
        row.revoked = True
        row.revoked_at = utc_now()
        session.add(row)
        session.flush()
        record_audit(
            session,
            actor=actor,
            tenant=row.tenant,
            action="api_key.revoke",
            entity="api_key",
            entity_id=str(row.id),
            payload={"prefix": row.prefix, "role": row.role},
        )
    _notify_revoked(session, key_id)
    return row
