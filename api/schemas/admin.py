"""Response models of the admin endpoints: API keys (never their secrets) and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel


def _utc(value: datetime) -> datetime:
    """Timestamps leave the API as RFC 3339 in UTC with ``Z`` (stored values may come back
    without a zone from SQLite; they were written in UTC)."""
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class ApiKeyOut(BaseModel):
    """An API key as an administrator sees it: who and what, never the secret or its hash."""

    id: int
    prefix: str
    role: str
    tenant: str
    label: str | None
    created_at: UtcDatetime
    revoked: bool
    revoked_at: UtcDatetime | None


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None


class AuditEntryOut(BaseModel):
    """One audit entry, as stored (``payload`` is its canonical JSON)."""

    seq: int
    at: UtcDatetime
    actor: str
    tenant: str | None
    action: str
    entity: str
    entity_id: str
    payload: str
    prev_hash: str
    hash: str
    scheme: str


class AuditList(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None
