"""Append-only, hash-chained audit log.

Every entry stores the hash of the entry before it, and its own hash is
``sha256`` over the canonical JSON of its fields plus that previous hash
(:func:`entry_hash`). Editing any stored field, deleting or inserting an entry in
the middle breaks the chain at that point, and :func:`verify_chain` reports the
first broken link. (Truncating the newest entries leaves a valid shorter chain:
publish :func:`chain_head` somewhere else to anchor it.)

:func:`record_audit` writes in the caller's transaction, so an entry exists if
and only if the change it records was committed. Appends are serialised so the
chain never forks: on PostgreSQL with a transaction-level advisory lock, on
SQLite by taking the database write lock before reading the head; in any case ``seq`` is the primary key, so
two writers can never both commit the same link.

The ORM refuses to update or delete loaded entries (a ``before_flush`` guard).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, Session, SQLModel, select

from models.registry import utc_now

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first entry."""

ADVISORY_LOCK_KEY = 0x6461_7461_6669_6E01  # "datafin" + 1, fits a signed bigint
"""PostgreSQL advisory lock taken for the duration of an appending transaction."""

VERIFY_BATCH = 1000


class AuditEntry(SQLModel, table=True):
    """One audit record. ``seq`` runs 1, 2, 3, ... without gaps."""

    __tablename__ = "audit_entry"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime
    actor: str = Field(max_length=120)
    tenant: str | None = Field(default=None, max_length=80, index=True)
    action: str = Field(max_length=80)
    entity: str = Field(max_length=80)
    entity_id: str = Field(max_length=80)
    payload: str = Field(sa_type=sa.Text, description="Canonical JSON.")
    prev_hash: str = Field(max_length=64)
    hash: str = Field(unique=True, max_length=64)


class AuditEntryPublic(SQLModel):
    seq: int
    at: datetime
    actor: str
    tenant: str | None
    action: str
    entity: str
    entity_id: str
    payload: str
    prev_hash: str
    hash: str


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _canonical_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"The audit payload holds a {type(value).__name__}, which is not JSON.")


def canonical_json(payload: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8, finite numbers only."""
    try:
        return json.dumps(
            payload,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_json_default,
        )
    except ValueError as exc:
        raise ValueError(f"The audit payload must hold finite numbers only: {exc}") from exc


def _canonical_time(at: datetime) -> str:
    if at.utcoffset() is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    tenant: str | None,
    action: str,
    entity: str,
    entity_id: str,
    payload: str,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) over the canonical fields and the previous hash."""
    material = canonical_json(
        {
            "seq": seq,
            "at": _canonical_time(at),
            "actor": actor,
            "tenant": tenant,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "payload": payload,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _lock_chain(session: Session) -> None:
    """Hold the chain's write lock until the caller's transaction ends."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif dialect == "sqlite":
        # A write statement (matching no row) takes SQLite's RESERVED lock now, so
        # no other connection can append between our read of the head and our insert.
        session.execute(sa.text("UPDATE audit_entry SET seq = seq WHERE 0 = 1"))


def chain_head(session: Session) -> AuditEntry | None:
    """The newest entry, or None on an empty log."""
    return session.exec(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()  # type: ignore[attr-defined]


def record_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int,
    payload: Mapping[str, Any] | list[Any] | None = None,
    tenant: str | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append an entry in the caller's transaction and return it (flushed, not committed).

    Parameters
    ----------
    session : Session
        The session making the change being recorded; commit it as usual.
    actor : str
        Who: e.g. ``key:<id>`` or ``cli``.
    action : str
        What, e.g. ``asset.register``, ``signals.import``.
    entity, entity_id : str
        The object acted upon, e.g. ``data_asset`` and its id.
    payload : mapping or list, optional
        Details, stored as canonical JSON (Decimals as strings, dates ISO).
    tenant : str, optional
        The acting tenant.
    at : datetime, optional
        When (timezone-aware); default now, UTC.
    """
    text = canonical_json(payload if payload is not None else {})
    when = (at or utc_now()).astimezone(UTC)
    _lock_chain(session)
    head = chain_head(session)
    seq = 1 if head is None else head.seq + 1
    prev_hash = GENESIS_HASH if head is None else head.hash
    fields = {
        "seq": seq,
        "at": when,
        "actor": actor,
        "tenant": tenant,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "payload": text,
        "prev_hash": prev_hash,
    }
    entry = AuditEntry(**fields, hash=entry_hash(**fields))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class BrokenLink:
    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChainVerification:
    """Outcome of :func:`verify_chain`."""

    ok: bool
    checked: int
    head_seq: int | None
    head_hash: str | None
    broken: BrokenLink | None = None

    @property
    def first_broken_seq(self) -> int | None:
        return None if self.broken is None else self.broken.seq


def verify_chain(session: Session) -> ChainVerification:
    """Walk the log in ``seq`` order and report the first broken link.

    Checks, for every entry: ``seq`` follows its predecessor by one (the first is 1),
    ``prev_hash`` equals the predecessor's ``hash`` (the genesis hash for the first),
    and the stored ``hash`` equals the hash recomputed from the stored fields.
    """
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    last_seq: int | None = None
    cursor = 0
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    while True:
        rows = session.execute(
            sa.select(table).where(table.c.seq > cursor).order_by(table.c.seq).limit(VERIFY_BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            broken = _check_row(row, expected_seq, prev_hash)
            if broken is not None:
                return ChainVerification(False, checked, last_seq, prev_hash, broken)
            checked += 1
            last_seq = row.seq
            prev_hash = row.hash
            expected_seq = row.seq + 1
        cursor = rows[-1].seq
    return ChainVerification(True, checked, last_seq, None if last_seq is None else prev_hash)


def _check_row(row: Any, expected_seq: int, prev_hash: str) -> BrokenLink | None:
    if row.seq != expected_seq:
        missing = (
            f"seq {expected_seq}"
            if row.seq == expected_seq + 1
            else f"seq {expected_seq}..{row.seq - 1}"
        )
        return BrokenLink(row.seq, f"entries missing before seq {row.seq}: {missing}")
    if row.prev_hash != prev_hash:
        return BrokenLink(row.seq, "prev_hash does not match the hash of the previous entry")
    try:
        recomputed = entry_hash(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            tenant=row.tenant,
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            payload=row.payload,
            prev_hash=row.prev_hash,
        )
    except (TypeError, ValueError, AttributeError) as exc:
        return BrokenLink(row.seq, f"entry cannot be hashed: {exc}")
    if recomputed != row.hash:
        return BrokenLink(row.seq, "stored hash does not match the entry's contents")
    return None


@event.listens_for(OrmSession, "before_flush")
def _forbid_audit_changes(session: OrmSession, _context: Any, _instances: Any) -> None:
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) and session.is_modified(obj):
            raise PermissionError("The audit log is append-only: entries cannot be changed.")
    for obj in session.deleted:
        if isinstance(obj, AuditEntry):
            raise PermissionError("The audit log is append-only: entries cannot be deleted.")
