"""Re-derive the audited state of every business row and name the rows that differ.

Each audit entry about an object of `models.audit.STATE_TABLES` records a keyed digest of
the object's state as the change left it (``audited_state`` in its payload). Walking the
chain in order gives, for every object, the digest of its last audited state; this module
recomputes the digest from the rows as they are now and reports every object

* whose current state differs from its last audited state (edited in the database),
* that was audited but is gone (deleted without an audit entry),
* that exists with no audit entry at all (inserted without one).

Entries written before state digests existed record none, and entries written before
migration 0013 name securitizations and stress runs by their former hex ids; objects
audited only by such entries cannot be checked and are counted, not reported. The entries' own integrity is
`models.audit.verify_chain`'s job: a digest in an edited entry is caught there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from models.audit import STATE_KEY, STATE_TABLES, VERIFY_BATCH, AuditEntry, state_digest


@dataclass(frozen=True, slots=True)
class StateProblem:
    """A business row whose current state is not the one the audit log last recorded."""

    entity: str
    entity_id: str
    #: the entry that last recorded the object's state (None: no entry records it)
    seq: int | None
    reason: str

    def __str__(self) -> str:
        return f"{self.entity} {self.entity_id}: {self.reason}"


@dataclass(frozen=True, slots=True)
class StateVerification:
    """Outcome of `verify_states`: objects checked, objects audited only before state
    digests were recorded (not checkable), and every problem found."""

    checked: int
    unchecked: int
    problems: tuple[StateProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _last_audited(session: Session) -> tuple[dict[tuple[str, str], tuple[str, int]], set[str]]:
    """``{(entity, id): (digest, seq)}`` of the last recorded state of each object, and the
    entities that have entries without state digests."""
    last: dict[tuple[str, str], tuple[str, int]] = {}
    legacy: set[str] = set()
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    cursor = 0
    while True:
        rows = session.execute(
            sa.select(table.c.seq, table.c.entity, table.c.payload)
            .where(table.c.seq > cursor, table.c.entity.in_(list(STATE_TABLES)))
            .order_by(table.c.seq)
            .limit(VERIFY_BATCH)
        ).all()
        if not rows:
            break
        for seq, entity, payload in rows:
            try:
                states = json.loads(payload).get(STATE_KEY)
            except (ValueError, AttributeError):  # an edited payload: verify_chain names it
                states = None
            if not isinstance(states, dict):
                legacy.add(entity)
                continue
            for entity_id, digest in states.items():
                last[(entity, str(entity_id))] = (str(digest), int(seq))
        cursor = rows[-1][0]
    return last, legacy


def verify_states(session: Session) -> StateVerification:
    """Compare every audited object's current state with its last audited state (see the
    module docstring); read-only."""
    last, legacy = _last_audited(session)
    tables = SQLModel.metadata.tables
    problems: list[StateProblem] = []
    checked = unchecked = 0
    for entity, (name, _children) in STATE_TABLES.items():
        table = tables[name]
        present = {str(i) for i in session.execute(sa.select(table.c.id)).scalars()}
        audited = {entity_id for (e, entity_id) in last if e == entity}
        if isinstance(table.c.id.type, sa.Integer):
            # ids of an earlier scheme (hex strings, before migration 0013): the entries keep
            # the ids they were written with, and the rows were renumbered since
            stale = {i for i in audited if not i.isdigit()}
            if stale:
                unchecked += len(stale)
                legacy.add(entity)
                audited -= stale
        for entity_id in sorted(present | audited, key=lambda i: (len(i), i)):
            recorded = last.get((entity, entity_id))
            if recorded is None:
                if entity in legacy:
                    unchecked += 1
                else:
                    problems.append(
                        StateProblem(
                            entity,
                            entity_id,
                            None,
                            "exists, but no audit entry records it (inserted outside the service)",
                        )
                    )
                continue
            digest, seq = recorded
            checked += 1
            if state_digest(session, entity, entity_id) == digest:
                continue
            if entity_id not in present:
                reason = f"deleted without an audit entry (last audited at seq {seq})"
            else:
                reason = f"its current state differs from its last audited state (seq {seq})"
            problems.append(StateProblem(entity, entity_id, seq, reason))
    return StateVerification(checked, unchecked, tuple(problems))
