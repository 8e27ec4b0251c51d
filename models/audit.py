"""Append-only, keyed hash chain of audit entries, with a signed checkpoint of its head.

Every entry stores the hash of the entry before it, and its own hash is an HMAC-SHA256,
keyed with the audit key from the settings (``AUDIT_KEY``, kept outside the database),
over the canonical JSON of its fields plus that previous hash (:func:`entry_hash`).
Without the key nobody can rewrite an entry and re-hash the chain after it: editing any
stored field, deleting or inserting an entry breaks the chain at that point, and
:func:`verify_chain` names the entry and the reason. Entries written before keyed hashing
(``scheme`` ``sha256``) stay verifiable; once a keyed entry exists, every later one must
be keyed, and the first keyed entry's link protects the older prefix.

Each append also writes a checkpoint of the new head (sequence number and hash, signed with
the same key) into ``audit_checkpoint``, a separate table. Deleting the newest entries
leaves a shorter chain that still links, but its head is then older than the newest
checkpoint, which :func:`verify_chain` reports. Both tables are append-only in the
database itself: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), see
:func:`install_append_only_triggers`.

:func:`record_audit` writes in the caller's transaction, so an entry exists if
and only if the change it records was committed. Appends are serialised so the
chain never forks: on PostgreSQL with a transaction-level advisory lock, on
SQLite by taking the database write lock before reading the head; in any case ``seq`` is the primary key, so
two writers can never both commit the same link.

The ORM refuses to update or delete loaded entries (a ``before_flush`` guard).

Entries about the business objects of `STATE_TABLES` (assets with their signals and
costs, loans with their pledges and events, valuations with their quotes, API keys,
consents, comparables, securitizations, scenarios) also record, in the payload under
``audited_state``, a keyed digest of each object's state as the change left it
(:func:`state_digest`). `models.audit_state.verify_states` re-derives those digests from
the rows as they are now and names every row that was changed, deleted or inserted
without an audit entry.
"""

from __future__ import annotations

import hashlib
import hmac
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

from models.db import utc_now

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first entry."""

ADVISORY_LOCK_KEY = 0x6461_7461_6669_6E01  # "datafin" + 1, fits a signed bigint
"""PostgreSQL advisory lock taken for the duration of an appending transaction."""

VERIFY_BATCH = 1000

#: Hash schemes: unkeyed SHA-256 (entries written before keyed hashing) and HMAC-SHA256.
SCHEME_SHA256 = "sha256"
SCHEME_HMAC = "hmac-sha256"

#: The development audit key. The service refuses it outside development (api.settings).
DEFAULT_AUDIT_KEY = "datafin-development-audit-key-change-me-0123456789"
_audit_key: bytes = DEFAULT_AUDIT_KEY.encode("utf-8")


def configure_audit_key(key: str) -> None:
    """Set the key that signs the chain (called by the service and the CLI at start)."""
    global _audit_key
    if len(key.encode("utf-8")) < 32:
        raise ValueError("The audit key must be at least 32 bytes long.")
    _audit_key = key.encode("utf-8")


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
    scheme: str = Field(
        default=SCHEME_HMAC, max_length=16, sa_column_kwargs={"server_default": SCHEME_SHA256}
    )


class AuditCheckpoint(SQLModel, table=True):
    """The chain's head after an append, signed (HMAC of ``seq`` and ``hash`` with the audit key)."""

    __tablename__ = "audit_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(index=True)
    hash: str = Field(max_length=64)
    at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    signature: str = Field(max_length=64)


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
    scheme: str = SCHEME_HMAC,
) -> str:
    """HMAC-SHA256 with the audit key (or, for ``scheme="sha256"``, plain SHA-256), hex,
    over the canonical fields and the previous hash."""
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
    if scheme == SCHEME_SHA256:
        return hashlib.sha256(material.encode("utf-8")).hexdigest()
    if scheme != SCHEME_HMAC:
        raise ValueError(f"unknown hash scheme {scheme!r}")
    return hmac.new(_audit_key, material.encode("utf-8"), hashlib.sha256).hexdigest()


def checkpoint_signature(seq: int, head_hash: str) -> str:
    """HMAC-SHA256 of a checkpoint (the head's sequence number and hash) with the audit key."""
    return hmac.new(
        _audit_key, f"audit-checkpoint:{seq}:{head_hash}".encode(), hashlib.sha256
    ).hexdigest()


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


#: Audited business objects whose state an entry records: the entity name of the entries
#: -> the object's table and the child tables (with their key column) that belong to it.
STATE_TABLES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "data_asset": ("data_asset", (("asset_signal", "asset_id"), ("cost_record", "asset_id"))),
    "loan": ("loan", (("loan_pledge", "loan_id"), ("loan_event", "loan_id"))),
    "valuation": ("valuation", (("asset_quote", "valuation_id"),)),
    "api_key": ("api_key", ()),
    "pledge_consent": ("pledge_consent", ()),
    "comparable": ("comparable", ()),
    "securitization": ("securitization", (("securitization_tranche", "securitization_id"),)),
    "stress_scenario": ("stress_scenario", ()),
}

#: The payload key of the state digests (``{entity_id: digest}``).
STATE_KEY = "audited_state"


def _key(table: sa.Table, entity_id: str | int) -> Any:
    """The id as the table's key type; None when it cannot be one (no such row)."""
    if not isinstance(table.c.id.type, sa.Integer):
        return str(entity_id)
    text = str(entity_id)
    return int(text) if text.lstrip("-").isdigit() else None


def current_state(session: Session, entity: str, entity_id: str | int) -> dict[str, Any] | None:
    """The object's row and its child rows as stored now (None when it does not exist)."""
    tables = SQLModel.metadata.tables
    name, children = STATE_TABLES[entity]
    table = tables[name]
    key = _key(table, entity_id)
    if key is None:
        return None
    row = session.execute(sa.select(table).where(table.c.id == key)).mappings().first()
    if row is None:
        return None
    state: dict[str, Any] = {name: dict(row)}
    for child_name, column in children:
        child = tables[child_name]
        rows = session.execute(
            sa.select(child).where(child.c[column] == key).order_by(child.c.id)
        ).mappings()
        state[child_name] = [dict(r) for r in rows]
    return state


def state_digest(session: Session, entity: str, entity_id: str | int) -> str:
    """HMAC-SHA256 (the audit key) of the canonical JSON of `current_state`; the state of an
    object that does not exist has a digest too (a deletion is a state)."""
    material = canonical_json(
        {"entity": entity, "id": str(entity_id), "state": current_state(session, entity, entity_id)}
    )
    return hmac.new(_audit_key, material.encode("utf-8"), hashlib.sha256).hexdigest()


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
    state_ids: list[str | int] | None = None,
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
    state_ids : list, optional
        For an entity of `STATE_TABLES`: the objects whose state (after the change, which
        is flushed first) the entry records; default ``[entity_id]``.
    """
    body: Mapping[str, Any] | list[Any] = payload if payload is not None else {}
    if entity in STATE_TABLES and isinstance(body, Mapping):
        session.flush()
        ids = state_ids if state_ids is not None else [entity_id]
        body = {**body, STATE_KEY: {str(i): state_digest(session, entity, i) for i in ids}}
    text = canonical_json(body)
    when = (at or utc_now()).astimezone(UTC)
    _lock_chain(session)
    head = chain_head(session)
    seq = 1 if head is None else head.seq + 1
    prev_hash = GENESIS_HASH if head is None else head.hash
    fields: dict[str, Any] = {
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
    entry = AuditEntry(**fields, hash=entry_hash(**fields, scheme=SCHEME_HMAC), scheme=SCHEME_HMAC)
    session.add(entry)
    session.add(
        AuditCheckpoint(
            seq=seq, hash=entry.hash, at=when, signature=checkpoint_signature(seq, entry.hash)
        )
    )
    session.flush()
    return entry


def list_entries(
    session: Session,
    *,
    tenant: str,
    limit: int,
    after_seq: int | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[AuditEntry], bool]:
    """A tenant's audit entries in ``seq`` order, filtered in SQL, one page (``more`` when
    another follows)."""
    query = select(AuditEntry).where(AuditEntry.tenant == tenant)
    if after_seq is not None:
        query = query.where(AuditEntry.seq > after_seq)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    rows = list(session.exec(query.order_by(AuditEntry.seq).limit(limit + 1)).all())  # type: ignore[arg-type]
    return rows[:limit], len(rows) > limit


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    """The newest checkpoint (highest ``seq``), or None."""
    return session.exec(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)  # type: ignore[attr-defined]
    ).first()


@dataclass(frozen=True, slots=True)
class BrokenLink:
    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChainVerification:
    """Outcome of :func:`verify_chain`: the first broken link (``broken``) and every entry
    found bad (``problems``), the head reached and the newest checkpoint."""

    ok: bool
    checked: int
    head_seq: int | None
    head_hash: str | None
    broken: BrokenLink | None = None
    problems: tuple[BrokenLink, ...] = ()
    checkpoint_seq: int | None = None

    @property
    def first_broken_seq(self) -> int | None:
        return None if self.broken is None else self.broken.seq


def _columns() -> list[Any]:
    """The audit columns as stored: ``at`` read as text, so an edited timestamp that no
    longer parses is reported against its entry instead of failing the read."""
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    return [sa.type_coerce(c, sa.String).label(c.name) if c.name == "at" else c for c in table.c]


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def verify_chain(session: Session) -> ChainVerification:
    """Walk the log in ``seq`` order, name every bad entry, and check the newest checkpoint.

    For every entry: ``seq`` follows its predecessor by one (the first is 1), ``prev_hash``
    equals the predecessor's ``hash`` (the genesis hash for the first), the stored ``hash``
    equals the one recomputed from the stored fields with the audit key, and no unkeyed
    entry follows a keyed one. Then the newest checkpoint must carry a valid signature and
    match the entry at its ``seq``, and the head must not be older than it (entries deleted
    from the end). ``broken`` is the first problem; ``problems`` lists them all (after a
    broken link the walk continues from the stored hashes, so later damage is named too).
    """
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    last_seq: int | None = None
    last_hash: str | None = None
    keyed_seen = False
    problems: list[BrokenLink] = []
    hashes: dict[int, str] = {}
    cursor = 0
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    columns = _columns()
    while True:
        rows = session.execute(
            sa.select(*columns)
            .where(table.c.seq > cursor)
            .order_by(table.c.seq)
            .limit(VERIFY_BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            broken = _check_row(row, expected_seq, prev_hash, keyed_seen)
            if broken is not None:
                problems.append(broken)
            else:
                checked += 1
            keyed_seen = keyed_seen or row.scheme == SCHEME_HMAC
            last_seq, last_hash = row.seq, row.hash
            hashes[row.seq] = row.hash
            prev_hash = row.hash
            expected_seq = row.seq + 1
        cursor = rows[-1].seq
    checkpoint = latest_checkpoint(session)
    if checkpoint is not None:
        if not hmac.compare_digest(
            checkpoint.signature, checkpoint_signature(checkpoint.seq, checkpoint.hash)
        ):
            problems.append(
                BrokenLink(checkpoint.seq, "the newest checkpoint's signature is not valid")
            )
        elif last_seq is None or last_seq < checkpoint.seq:
            problems.append(
                BrokenLink(
                    checkpoint.seq,
                    f"entries deleted from the end: the checkpoint records seq {checkpoint.seq} but the "
                    f"log ends at {last_seq if last_seq is not None else 'nothing'}",
                )
            )
        elif hashes.get(checkpoint.seq) != checkpoint.hash:
            problems.append(
                BrokenLink(checkpoint.seq, "the entry differs from the checkpoint of its hash")
            )
    return ChainVerification(
        not problems,
        checked,
        last_seq,
        last_hash,
        broken=problems[0] if problems else None,
        problems=tuple(problems),
        checkpoint_seq=None if checkpoint is None else checkpoint.seq,
    )


def _check_row(row: Any, expected_seq: int, prev_hash: str, keyed_seen: bool) -> BrokenLink | None:
    if row.seq != expected_seq:
        missing = (
            f"seq {expected_seq}"
            if row.seq == expected_seq + 1
            else f"seq {expected_seq}..{row.seq - 1}"
        )
        return BrokenLink(row.seq, f"entries missing before seq {row.seq}: {missing}")
    if row.prev_hash != prev_hash:
        return BrokenLink(row.seq, "prev_hash does not match the hash of the previous entry")
    if keyed_seen and row.scheme != SCHEME_HMAC:
        return BrokenLink(row.seq, f"unkeyed entry ({row.scheme!r}) after keyed ones")
    try:
        at = _parse_time(row.at)
    except (TypeError, ValueError) as exc:
        return BrokenLink(row.seq, f"the timestamp {row.at!r} is not a valid time: {exc}")
    try:
        recomputed = entry_hash(
            seq=row.seq,
            at=at,
            actor=row.actor,
            tenant=row.tenant,
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            payload=row.payload,
            prev_hash=row.prev_hash,
            scheme=row.scheme,
        )
    except (TypeError, ValueError, AttributeError) as exc:
        return BrokenLink(row.seq, f"entry cannot be hashed: {exc}")
    if not hmac.compare_digest(recomputed, str(row.hash)):
        return BrokenLink(
            row.seq,
            "stored hash does not match the entry's contents (edited, or hashed without the audit key)",
        )
    return None


# ----------------------------------------------------------------------------- append-only


_TABLES = ("audit_entry", "audit_checkpoint")


def install_append_only_triggers(connection: sa.Connection) -> None:
    """Database triggers that refuse UPDATE and DELETE on the audit tables (and TRUNCATE
    on PostgreSQL), whoever issues them. Idempotent."""
    drop_append_only_triggers(connection)
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text(
                "CREATE OR REPLACE FUNCTION datafin_audit_append_only() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME; "
                "END; $$ LANGUAGE plpgsql"
            )
        )
        for table in _TABLES:
            connection.execute(
                sa.text(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION datafin_audit_append_only()"
                )
            )
            connection.execute(
                sa.text(
                    f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION datafin_audit_append_only()"
                )
            )
    else:
        for table in _TABLES:
            for op in ("UPDATE", "DELETE"):
                connection.execute(
                    sa.text(
                        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                        f"BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: {op} on {table} refused'); END"
                    )
                )


def drop_append_only_triggers(connection: sa.Connection) -> None:
    """Remove the triggers (database maintenance and tests only)."""
    for table in _TABLES:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
            connection.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}"))
        else:
            for op in ("update", "delete"):
                connection.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_{op}"))


@event.listens_for(OrmSession, "before_flush")
def _forbid_audit_changes(session: OrmSession, _context: Any, _instances: Any) -> None:
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) and session.is_modified(obj):
            raise PermissionError("The audit log is append-only: entries cannot be changed.")
    for obj in session.deleted:
        if isinstance(obj, AuditEntry):
            raise PermissionError("The audit log is append-only: entries cannot be deleted.")
