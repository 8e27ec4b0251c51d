"""Audit that detects: ``datafin audit verify`` re-derives each audited business row's
state and names every row changed, deleted or inserted behind the service's back (issue:
security and integrity, item 8: edits to loan, pledge, signal or api_key rows went unseen)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from database_url import database_url_of
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.demo_steps.registry import comparable_records, cost_records, signal_rows
from api.schemas.credit import ConsentIn
from api.schemas.registry import AssetRegister
from api.services import comparables as comparable_service
from api.services import consents as consents_service
from api.services import loan_book as loan_book_service
from api.services import registry
from api.services import signals as signal_service
from api.services import valuation as valuation_service
from models.audit_state import verify_states
from models.credit import Loan, Pledge
from models.registry import Comparable, Signal
from models.security import ApiKey
from samples.data_assets import generate_samples

SAMPLES = generate_samples(11, n_assets=2)
AS_OF = SAMPLES.as_of


@pytest.fixture
def book(session_factory, client, make_key) -> dict[str, int]:
    """Two assets with signals, costs, comparables, public valuations and a consent, all
    through the services; one loan originated over HTTP."""
    ids = []
    with session_factory() as session:
        for sample in SAMPLES.assets:
            a = registry.register_asset(
                session, AssetRegister.model_validate(sample.profile), tenant="owner", actor="t"
            )
            signal_service.import_signals(
                session, a.id, signal_rows(sample.signals), tenant="owner", actor="t"
            )
            registry.add_costs(session, a.id, cost_records(sample.costs), tenant="owner", actor="t")
            ids.append(int(a.id))
        comparable_service.add_comparables(
            session, comparable_records(SAMPLES.comparables), tenant="owner", actor="t"
        )
        for aid in ids:
            valuation_service.create_valuation(
                session,
                aid,
                as_of=AS_OF,
                paths=500,
                seed=3,
                tenant="owner",
                actor="t",
                publish=True,
            )
            consents_service.grant_consent(
                session,
                aid,
                ConsentIn(
                    lender_tenant="bank-a", amount=1e12, currency="CNY", expires_on=date(2100, 1, 1)
                ),
                tenant="owner",
                role="registrar",
                actor="t",
            )
    headers = make_key("bank", "bank-a")
    terms = {
        "asset_ids": ids,
        "currency": "CNY",
        "tenor_months": 12,
        "amortization": "annuity",
        "frequency_months": 1,
        "day_count": "ACT/365F",
        "calendar": "China",
        "borrower": {"rating": "BBB"},
        "as_of": AS_OF.isoformat(),
    }
    quote = client.post("/v1/loans/quote", headers=headers, json=terms)
    assert quote.status_code == 200, quote.text
    principal = round(quote.json()["max_principal"] * 0.5, 2)
    r = client.post("/v1/loans", headers=headers, json={**terms, "principal": principal})
    assert r.status_code == 201, r.text
    with session_factory() as session:
        key_id = session.execute(sa.select(sa.func.max(ApiKey.id))).scalar_one()
        comparable_id = session.execute(sa.select(sa.func.min(Comparable.id))).scalar_one()
    return {
        "asset": ids[0],
        "loan": int(r.json()["id"]),
        "key": key_id,
        "comparable": comparable_id,
    }


def _named(outcome) -> set[tuple[str, str]]:
    return {(p.entity, p.entity_id) for p in outcome.problems}


def test_untouched_rows_match_their_audited_state(book, session_factory) -> None:
    with session_factory() as session:
        outcome = verify_states(session)
    assert outcome.ok, [str(p) for p in outcome.problems]
    assert outcome.checked >= 2 + 1 + 2 + 2 + 1  # assets, loan, valuations, consents, key at least


def test_edits_to_loan_pledge_signal_and_key_rows_are_named(
    book, session_factory, engine, monkeypatch
) -> None:
    with engine.begin() as conn:  # as the database's own user could, behind the service
        conn.execute(
            sa.update(Loan.__table__)
            .where(Loan.__table__.c.id == book["loan"])
            .values(principal=Decimal("1.00"))
        )
        conn.execute(
            sa.update(Signal.__table__)
            .where(Signal.__table__.c.asset_id == book["asset"])
            .values(value=Signal.__table__.c.value * 2)
        )
        conn.execute(
            sa.update(ApiKey.__table__)
            .where(ApiKey.__table__.c.id == book["key"])
            .values(role="admin")
        )
        conn.execute(
            sa.delete(Comparable.__table__).where(Comparable.__table__.c.id == book["comparable"])
        )
        conn.execute(
            sa.insert(Comparable.__table__).values(
                category="finance",
                price=Decimal("1000.00"),
                currency="CNY",
                traded_on=date(2025, 1, 1),
                records=10,
                quality_score=0.9,
                rights_scope="full",
                tenant="owner",
                created_at=sa.func.current_timestamp(),
            )
        )
        new_comparable = conn.execute(
            sa.select(sa.func.max(Comparable.__table__.c.id))
        ).scalar_one()
    with session_factory() as session:
        outcome = verify_states(session)
    named = _named(outcome)
    assert ("loan", str(book["loan"])) in named
    assert ("data_asset", str(book["asset"])) in named  # its signals are part of its state
    assert ("api_key", str(book["key"])) in named
    assert ("comparable", str(book["comparable"])) in named
    assert ("comparable", str(new_comparable)) in named
    reasons = {(p.entity, p.entity_id): p.reason for p in outcome.problems}
    assert "differs from its last audited state" in reasons[("loan", str(book["loan"]))]
    assert "deleted without an audit entry" in reasons[("comparable", str(book["comparable"]))]
    assert "no audit entry records it" in reasons[("comparable", str(new_comparable))]

    monkeypatch.setenv("DATABASE_URL", database_url_of(engine))
    r = CliRunner().invoke(cli_app, ["audit", "verify"])
    assert r.exit_code == 1
    assert f"changed row: loan {book['loan']}" in r.stderr
    assert f"changed row: api_key {book['key']}" in r.stderr


def test_an_edited_pledge_is_named_through_its_loan(book, session_factory, engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(Pledge.__table__)
            .where(Pledge.__table__.c.loan_id == book["loan"])
            .values(amount=Decimal("0.01"))
        )
    with session_factory() as session:
        assert _named(verify_states(session)) == {("loan", str(book["loan"]))}


def test_changes_made_through_the_service_stay_verified(
    book, session_factory, client, make_key
) -> None:
    """Revaluing the loan, revoking a key and deleting a comparable are audited changes."""
    admin = make_key("admin", "owner")
    assert client.delete(f"/v1/keys/{book['key']}", headers=admin).status_code in (200, 204, 404)
    with session_factory() as session:
        comparable_service.delete_comparable(
            session, book["comparable"], tenant="owner", is_admin=False, actor="t"
        )
        loan = session.get(Loan, book["loan"])
        from api.schemas.credit import RevalueIn

        loan_book_service.revalue_loan(session, loan, RevalueIn(as_of=AS_OF), actor="t")
    with session_factory() as session:
        outcome = verify_states(session)
    assert outcome.ok, [str(p) for p in outcome.problems]


def test_entries_under_former_hex_ids_are_counted_not_fatal(session_factory) -> None:
    """Entries written before migration 0013 name securitizations by hex ids: those rows
    cannot be checked (the log is append-only, the ids moved); verify says so, never fails."""
    from models.audit import record_audit

    with session_factory() as session:
        record_audit(
            session,
            actor="t",
            action="securitization.create",
            entity="securitization",
            entity_id="39a461b42bc84bdf84cec3c179a4a2be",
            payload={"audited_state": {"39a461b42bc84bdf84cec3c179a4a2be": "0" * 64}},
        )
        session.commit()
    with session_factory() as session:
        outcome = verify_states(session)
    assert outcome.ok
    assert outcome.unchecked == 1
