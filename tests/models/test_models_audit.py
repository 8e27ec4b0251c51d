"""Hash-chained audit log: append, verify, tamper detection, serialised appends."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from models.audit import (
    GENESIS_HASH,
    SCHEME_SHA256,
    AuditCheckpoint,
    AuditEntry,
    canonical_json,
    chain_head,
    drop_append_only_triggers,
    entry_hash,
    record_audit,
    verify_chain,
)


def lift_triggers(session: Session) -> None:
    """What an attacker with the database owner's rights would do first: drop the triggers
    that keep the audit tables append-only (the test cleanup puts them back)."""
    drop_append_only_triggers(session.connection())


def _append_three(session: Session) -> list[AuditEntry]:
    entries = [
        record_audit(
            session,
            actor="key:1",
            tenant="acme",
            action="asset.register",
            entity="data_asset",
            entity_id=i,
            payload={"name": f"asset {i}", "records": 1000 * i, "price": Decimal("12.50")},
        )
        for i in (1, 2, 3)
    ]
    session.commit()
    return entries


def test_three_entries_form_a_valid_chain(db_session: Session) -> None:
    entries = _append_three(db_session)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash
    result = verify_chain(db_session)
    assert result.ok
    assert result.checked == 3
    assert result.broken is None
    assert result.head_seq == 3
    assert result.head_hash == entries[2].hash


def test_empty_log_verifies(db_session: Session) -> None:
    result = verify_chain(db_session)
    assert result.ok
    assert result.checked == 0
    assert result.head_seq is None


def test_entries_read_back_hash_to_their_stored_hash(db_session: Session) -> None:
    _append_three(db_session)
    db_session.expunge_all()
    for entry in db_session.exec(select(AuditEntry)).all():
        assert entry.at.tzinfo is not None
        recomputed = entry_hash(
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            tenant=entry.tenant,
            action=entry.action,
            entity=entry.entity,
            entity_id=entry.entity_id,
            payload=entry.payload,
            prev_hash=entry.prev_hash,
        )
        assert recomputed == entry.hash


def test_payload_edited_by_sql_is_detected_at_that_entry(db_session: Session) -> None:
    _append_three(db_session)
    lift_triggers(db_session)
    db_session.execute(
        sa.text("UPDATE audit_entry SET payload = :p WHERE seq = 2"),
        {"p": '{"name":"asset 2","price":"99.00","records":2000}'},
    )
    db_session.commit()
    result = verify_chain(db_session)
    assert not result.ok
    assert result.first_broken_seq == 2
    assert "hash" in result.broken.reason
    assert result.checked == 2  # the walk goes on past the bad entry: 1 and 3 verify


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor", "key:999"), ("tenant", "other"), ("entity_id", "7"), ("action", "asset.delete")],
)
def test_any_edited_field_is_detected(db_session: Session, column: str, value: str) -> None:
    _append_three(db_session)
    lift_triggers(db_session)
    db_session.execute(sa.text(f"UPDATE audit_entry SET {column} = :v WHERE seq = 3"), {"v": value})
    db_session.commit()
    assert verify_chain(db_session).first_broken_seq == 3


def test_rehashed_edit_is_detected_at_the_next_entry(db_session: Session) -> None:
    # An attacker who edits entry 2 and recomputes its hash still breaks entry 3's link.
    entries = _append_three(db_session)
    second = entries[1]
    forged = entry_hash(
        seq=2,
        at=second.at,
        actor=second.actor,
        tenant=second.tenant,
        action=second.action,
        entity=second.entity,
        entity_id=second.entity_id,
        payload='{"forged":true}',
        prev_hash=second.prev_hash,
    )
    lift_triggers(db_session)
    db_session.execute(
        sa.text("UPDATE audit_entry SET payload = :p, hash = :h WHERE seq = 2"),
        {"p": '{"forged":true}', "h": forged},
    )
    db_session.commit()
    result = verify_chain(db_session)
    assert result.first_broken_seq == 3
    assert "prev_hash" in result.broken.reason


def test_deleted_middle_entry_is_detected(db_session: Session) -> None:
    _append_three(db_session)
    lift_triggers(db_session)
    db_session.execute(sa.text("DELETE FROM audit_entry WHERE seq = 2"))
    db_session.commit()
    result = verify_chain(db_session)
    assert not result.ok
    assert result.first_broken_seq == 3
    assert "seq 2" in result.broken.reason


def test_deleted_first_entry_is_detected(db_session: Session) -> None:
    _append_three(db_session)
    lift_triggers(db_session)
    db_session.execute(sa.text("DELETE FROM audit_entry WHERE seq = 1"))
    db_session.commit()
    assert verify_chain(db_session).first_broken_seq == 2


def test_orm_refuses_to_change_or_delete_entries(db_session: Session) -> None:
    entry = _append_three(db_session)[0]
    entry.payload = "{}"
    db_session.add(entry)
    with pytest.raises(PermissionError, match="append-only"):
        db_session.flush()
    db_session.rollback()
    entry = db_session.get(AuditEntry, 1)
    db_session.delete(entry)
    with pytest.raises(PermissionError, match="append-only"):
        db_session.flush()
    db_session.rollback()
    assert verify_chain(db_session).ok


def test_entry_lives_and_dies_with_the_callers_transaction(db_session: Session) -> None:
    record_audit(db_session, actor="cli", action="x", entity="e", entity_id="1", payload={})
    db_session.rollback()
    assert chain_head(db_session) is None
    entry = record_audit(db_session, actor="cli", action="x", entity="e", entity_id="1")
    db_session.commit()
    assert entry.seq == 1
    assert entry.payload == "{}"
    assert entry.tenant is None


def test_payload_is_canonical_json() -> None:
    a = canonical_json({"b": 1, "a": [Decimal("1.10"), date(2025, 1, 31)], "c": "数据"})
    b = canonical_json({"c": "数据", "a": [Decimal("1.10"), date(2025, 1, 31)], "b": 1})
    assert a == b == '{"a":["1.10","2025-01-31"],"b":1,"c":"数据"}'
    assert canonical_json({"t": datetime(2025, 1, 1, 8, tzinfo=UTC)}) == (
        '{"t":"2025-01-01T08:00:00.000000+00:00"}'
    )


def test_payload_rejects_non_finite_numbers_and_unknown_types(db_session: Session) -> None:
    with pytest.raises(ValueError, match="finite"):
        record_audit(
            db_session, actor="a", action="b", entity="c", entity_id=1, payload={"x": float("nan")}
        )
    with pytest.raises(TypeError, match="object"):
        canonical_json({"x": object()})
    assert chain_head(db_session) is None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=50, deadline=None)
@given(
    payload=st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    edit=st.text(min_size=1, max_size=5),
)
def test_hash_changes_with_any_payload_edit(payload: dict, edit: str) -> None:
    fields = {
        "seq": 1,
        "at": datetime(2025, 1, 1, tzinfo=UTC),
        "actor": "a",
        "tenant": "t",
        "action": "x",
        "entity": "e",
        "entity_id": "1",
        "prev_hash": GENESIS_HASH,
    }
    original = canonical_json(payload)
    edited = canonical_json({**payload, "\x00edit": edit})
    assume(edited != original)
    assert entry_hash(payload=original, **fields) == entry_hash(payload=original, **fields)
    assert entry_hash(payload=original, **fields) != entry_hash(payload=edited, **fields)


def test_concurrent_appends_never_fork_the_chain(
    session_factory: Callable[[], Session],
) -> None:
    # Several writers append at once, each in its own transaction; the chain must come
    # out gap-free and valid (PostgreSQL: advisory lock; SQLite: write lock taken first).
    writers, per_writer = 4, 5
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                session = session_factory()
                try:
                    record_audit(
                        session,
                        actor=f"w{n}",
                        action="tick",
                        entity="e",
                        entity_id=i,
                        payload={"i": i},
                    )
                    session.commit()
                finally:
                    session.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    session = session_factory()
    result = verify_chain(session)
    assert result.ok
    assert result.checked == writers * per_writer
    assert result.head_seq == writers * per_writer


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET payload = '{}' WHERE seq = 2",
        "DELETE FROM audit_entry WHERE seq = 3",
        "UPDATE audit_checkpoint SET seq = 1",
        "DELETE FROM audit_checkpoint",
    ],
)
def test_the_database_refuses_changes_to_the_audit_tables(
    db_session: Session, statement: str
) -> None:
    _append_three(db_session)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db_session.execute(sa.text(statement))
    db_session.rollback()
    assert verify_chain(db_session).ok


def test_deleting_the_newest_entries_is_detected_by_the_checkpoint(db_session: Session) -> None:
    _append_three(db_session)
    lift_triggers(db_session)
    db_session.execute(sa.text("DELETE FROM audit_entry WHERE seq = 3"))
    db_session.commit()
    result = verify_chain(db_session)
    assert not result.ok
    assert result.checkpoint_seq == 3
    assert "deleted from the end" in result.broken.reason
    assert result.broken.seq == 3


def test_a_chain_rehashed_without_the_key_is_detected_where_it_was_edited(
    db_session: Session,
) -> None:
    """An attacker without the audit key edits entry 2 and re-hashes 2 and 3 with plain
    SHA-256 (as the old unkeyed chain allowed): named at entry 2."""
    entries = _append_three(db_session)
    lift_triggers(db_session)
    prev = entries[0].hash
    for e in entries[1:]:
        payload = '{"forged":true}' if e.seq == 2 else e.payload
        forged = entry_hash(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            tenant=e.tenant,
            action=e.action,
            entity=e.entity,
            entity_id=e.entity_id,
            payload=payload,
            prev_hash=prev,
            scheme=SCHEME_SHA256,
        )
        for scheme in ("hmac-sha256",):
            db_session.execute(
                sa.text(
                    "UPDATE audit_entry SET payload = :p, prev_hash = :ph, hash = :h, "
                    "scheme = :s WHERE seq = :q"
                ),
                {"p": payload, "ph": prev, "h": forged, "s": scheme, "q": e.seq},
            )
        prev = forged
    db_session.commit()
    result = verify_chain(db_session)
    assert result.first_broken_seq == 2
    assert "audit key" in result.broken.reason
    # relabelled as unkeyed entries, they are still refused after the keyed first entry
    db_session.execute(sa.text("UPDATE audit_entry SET scheme = 'sha256' WHERE seq >= 2"))
    db_session.commit()
    result = verify_chain(db_session)
    assert result.first_broken_seq == 2
    assert "unkeyed" in result.broken.reason


def test_every_bad_entry_is_named_and_a_broken_timestamp_is_no_crash(db_session: Session) -> None:
    _append_three(db_session)
    lift_triggers(db_session)
    db_session.execute(sa.text("UPDATE audit_entry SET actor = 'someone' WHERE seq = 1"))
    if db_session.get_bind().dialect.name == "sqlite":  # PostgreSQL's column type refuses it
        db_session.execute(sa.text("UPDATE audit_entry SET at = 'yesterday' WHERE seq = 3"))
    else:
        db_session.execute(
            sa.text("UPDATE audit_entry SET at = at + interval '1 second' WHERE seq = 3")
        )
    db_session.commit()
    result = verify_chain(db_session)
    assert [p.seq for p in result.problems] == [1, 3]
    assert result.first_broken_seq == 1
    assert "hash" in result.problems[0].reason


def test_a_forged_checkpoint_is_detected(db_session: Session) -> None:
    _append_three(db_session)
    lift_triggers(db_session)
    db_session.add(
        AuditCheckpoint(
            seq=3, hash="f" * 64, at=datetime(2025, 1, 1, tzinfo=UTC), signature="0" * 64
        )
    )
    db_session.commit()
    result = verify_chain(db_session)
    assert not result.ok
    assert "signature" in result.broken.reason


def test_entries_of_the_unkeyed_scheme_still_verify(db_session: Session) -> None:
    """A log written before keyed hashing (scheme sha256) stays valid, and keyed entries may follow."""
    fields = {
        "at": datetime(2025, 1, 1, tzinfo=UTC),
        "actor": "cli",
        "tenant": None,
        "action": "x",
        "entity": "e",
        "entity_id": "1",
        "payload": "{}",
    }
    prev = GENESIS_HASH
    for seq in (1, 2):
        h = entry_hash(seq=seq, prev_hash=prev, scheme=SCHEME_SHA256, **fields)
        db_session.add(AuditEntry(seq=seq, prev_hash=prev, hash=h, scheme=SCHEME_SHA256, **fields))
        prev = h
    db_session.commit()
    record_audit(db_session, actor="cli", action="y", entity="e", entity_id="2")
    db_session.commit()
    assert verify_chain(db_session).ok
