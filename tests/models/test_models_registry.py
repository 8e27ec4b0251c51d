"""Registry tables: signal uniqueness, certificate numbers, types that round-trip."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from models.registry import (
    CERTIFICATE_PATTERN,
    QUALITY_FIELDS,
    RIGHTS_FIELDS,
    Comparable,
    CostRecord,
    DataAsset,
    Signal,
    format_certificate_no,
    issue_certificate_no,
)

FINGERPRINT = "ab" * 32


def make_asset(session: Session, name: str = "Retail footfall", tenant: str = "acme") -> DataAsset:
    asset = DataAsset(
        name=name,
        category="consumer",
        holding=True,
        processing_use=True,
        product_operation=False,
        exclusive=False,
        territory="CN",
        cross_border=False,
        accuracy=0.95,
        consistency=0.9,
        completeness=0.88,
        conformity=0.97,
        timeliness=0.8,
        accessibility=0.75,
        records=1_200_000,
        refresh_days=30,
        fingerprint_sha256=FINGERPRINT,
        certificate_no=issue_certificate_no(session),
        owner_tenant=tenant,
    )
    session.add(asset)
    session.commit()
    return asset


def test_asset_round_trips_with_rights_quality_and_utc_time(db_session: Session) -> None:
    asset = make_asset(db_session)
    db_session.expunge_all()
    stored = db_session.get(DataAsset, asset.id)
    assert stored is not None
    assert stored.rights() == {
        "holding": True,
        "processing_use": True,
        "product_operation": False,
        "exclusive": False,
        "territory": "CN",
        "cross_border": False,
        "term_months": None,
    }
    assert set(stored.quality()) == set(QUALITY_FIELDS)
    assert stored.quality()["accuracy"] == pytest.approx(0.95, rel=1e-15)
    assert tuple(stored.rights()) == RIGHTS_FIELDS
    assert stored.status == "registered"
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset().total_seconds() == 0


def test_signal_unique_per_asset_metric_month(db_session: Session) -> None:
    asset = make_asset(db_session)
    db_session.add(
        Signal(asset_id=asset.id, metric="revenue", month=date(2025, 1, 1), value=1200.0)
    )
    db_session.add(Signal(asset_id=asset.id, metric="calls", month=date(2025, 1, 1), value=5.0e4))
    db_session.add(
        Signal(asset_id=asset.id, metric="revenue", month=date(2025, 2, 1), value=1300.0)
    )
    db_session.commit()
    db_session.add(Signal(asset_id=asset.id, metric="revenue", month=date(2025, 1, 1), value=999.0))
    with pytest.raises(sa.exc.IntegrityError):
        db_session.commit()
    db_session.rollback()
    values = db_session.exec(
        select(Signal.value).where(Signal.asset_id == asset.id, Signal.metric == "revenue")
    ).all()
    assert sorted(values) == [1200.0, 1300.0]


def test_same_metric_and_month_on_another_asset_is_fine(db_session: Session) -> None:
    first = make_asset(db_session, "a")
    second = make_asset(db_session, "b")
    for asset in (first, second):
        db_session.add(
            Signal(asset_id=asset.id, metric="revenue", month=date(2025, 1, 1), value=1.0)
        )
    db_session.commit()
    assert len(db_session.exec(select(Signal)).all()) == 2


def test_signal_of_unknown_asset_is_rejected_by_the_foreign_key(db_session: Session) -> None:
    db_session.add(Signal(asset_id=424242, metric="revenue", month=date(2025, 1, 1), value=1.0))
    with pytest.raises(sa.exc.IntegrityError):
        db_session.commit()
    db_session.rollback()


def test_month_is_stored_as_a_date(db_session: Session) -> None:
    asset = make_asset(db_session)
    db_session.add(Signal(asset_id=asset.id, metric="revenue", month=date(2025, 3, 1), value=1.5))
    db_session.commit()
    db_session.expunge_all()
    month = db_session.exec(select(Signal.month)).one()
    assert month == date(2025, 3, 1)
    assert type(month) is date


def test_money_is_stored_as_decimal(db_session: Session) -> None:
    asset = make_asset(db_session)
    db_session.add(
        CostRecord(
            asset_id=asset.id,
            category="storage",
            amount=Decimal("12345.67"),
            currency="CNY",
            incurred_on=date(2024, 6, 30),
            recurring_months=12,
        )
    )
    db_session.add(
        Comparable(
            tenant="acme",
            category="consumer",
            price=Decimal("250000.10"),
            currency="CNY",
            traded_on=date(2025, 5, 20),
            records=800_000,
            quality_score=0.85,
            rights_scope="processing_use",
        )
    )
    db_session.commit()
    db_session.expunge_all()
    assert db_session.exec(select(CostRecord.amount)).one() == Decimal("12345.67")
    assert db_session.exec(select(Comparable.price)).one() == Decimal("250000.10")


def test_deleting_an_asset_cascades_to_its_signals_and_costs(db_session: Session) -> None:
    asset = make_asset(db_session)
    db_session.add(Signal(asset_id=asset.id, metric="revenue", month=date(2025, 1, 1), value=1.0))
    db_session.commit()
    db_session.execute(sa.delete(DataAsset).where(DataAsset.id == asset.id))
    db_session.commit()
    assert db_session.exec(select(Signal)).all() == []


def test_certificate_numbers_are_formatted_sequential_and_unique(db_session: Session) -> None:
    numbers = [make_asset(db_session, f"asset {i}").certificate_no for i in range(3)]
    year = datetime.now(UTC).year
    assert numbers == [f"DA-{year}-000001", f"DA-{year}-000002", f"DA-{year}-000003"]
    assert all(re.fullmatch(CERTIFICATE_PATTERN, n) for n in numbers)


def test_certificate_sequence_restarts_each_year(db_session: Session) -> None:
    assert issue_certificate_no(db_session, date(2025, 12, 31)) == "DA-2025-000001"
    assert issue_certificate_no(db_session, date(2025, 12, 31)) == "DA-2025-000002"
    assert issue_certificate_no(db_session, date(2026, 1, 1)) == "DA-2026-000001"
    db_session.commit()


def test_rolled_back_registration_does_not_consume_a_number(db_session: Session) -> None:
    assert issue_certificate_no(db_session, date(2025, 1, 1)) == "DA-2025-000001"
    db_session.rollback()
    assert issue_certificate_no(db_session, date(2025, 1, 1)) == "DA-2025-000001"
    db_session.commit()


def test_duplicate_certificate_number_is_rejected(db_session: Session) -> None:
    asset = make_asset(db_session)
    clone = DataAsset.model_validate(asset.model_dump(exclude={"id"}))
    db_session.add(clone)
    with pytest.raises(sa.exc.IntegrityError):
        db_session.commit()
    db_session.rollback()


def test_certificate_format_bounds() -> None:
    assert format_certificate_no(2025, 1) == "DA-2025-000001"
    assert format_certificate_no(2025, 999_999) == "DA-2025-999999"
    for bad in (0, 1_000_000):
        with pytest.raises(ValueError, match="sequence"):
            format_certificate_no(2025, bad)


def test_concurrent_registrations_get_distinct_consecutive_numbers(
    session_factory: Callable[[], Session],
) -> None:
    workers, per_worker = 4, 5
    issued: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers)

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(per_worker):
                session = session_factory()
                try:
                    number = issue_certificate_no(session, date(2030, 1, 1))
                    session.commit()
                finally:
                    session.close()
                with lock:
                    issued.append(number)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(issued) == [
        format_certificate_no(2030, n) for n in range(1, workers * per_worker + 1)
    ]
