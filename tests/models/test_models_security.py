"""API keys: the secret is never stored; lookup by prefix, constant-time hash check."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from models.security import (
    ROLES,
    ApiKey,
    authenticate,
    constant_time_equals,
    create_api_key,
    generate_key,
    hash_key,
    key_prefix,
    revoke_api_key,
)


def test_generated_key_has_prefix_and_sha256_hash() -> None:
    plain, prefix, digest = generate_key()
    assert plain.startswith(f"dfk_{prefix}_")
    assert key_prefix(plain) == prefix
    assert len(prefix) == 8
    # Independent reference: hashlib directly.
    assert digest == hashlib.sha256(plain.encode()).hexdigest() == hash_key(plain)
    assert len(plain) > 40
    assert generate_key()[0] != plain


def test_secret_is_never_stored(db_session: Session) -> None:
    plain, row = create_api_key(db_session, role="bank", tenant="acme", label="desk")
    db_session.commit()
    secret = plain.split("_", 2)[2]
    stored = db_session.execute(sa.text("SELECT * FROM api_key")).mappings().one()
    for column, value in stored.items():
        assert secret not in str(value), f"column {column} leaks the secret"
        assert plain != str(value)
    assert stored["key_hash"] == hash_key(plain)
    assert row.role == "bank"
    assert row.tenant == "acme"
    assert row.revoked is False


def test_authenticate_accepts_the_key_and_nothing_else(db_session: Session) -> None:
    plain, row = create_api_key(db_session, role="registrar", tenant="acme")
    db_session.commit()
    found = authenticate(db_session, plain)
    assert found is not None
    assert found.id == row.id
    prefix = key_prefix(plain)
    assert authenticate(db_session, f"dfk_{prefix}_wrong-secret") is None
    assert authenticate(db_session, plain + "x") is None
    assert authenticate(db_session, "dfk_00000000_" + plain.split("_", 2)[2]) is None
    for malformed in ("", "Bearer x", "dfk_", "dfk_short_x", plain.replace("dfk_", "xyz_")):
        assert authenticate(db_session, malformed) is None


def test_revoked_key_is_refused(db_session: Session) -> None:
    plain, row = create_api_key(db_session, role="risk", tenant="acme")
    db_session.commit()
    revoked = revoke_api_key(db_session, row.id)
    db_session.commit()
    assert revoked is not None
    assert revoked.revoked
    assert revoked.revoked_at is not None
    assert authenticate(db_session, plain) is None
    assert revoke_api_key(db_session, 999_999) is None


@pytest.mark.parametrize("role", ROLES)
def test_every_role_can_be_issued(db_session: Session, role: str) -> None:
    plain, _ = create_api_key(db_session, role=role, tenant="t1")
    db_session.commit()
    assert authenticate(db_session, plain).role == role


def test_bad_role_or_tenant_is_refused(db_session: Session) -> None:
    with pytest.raises(ValueError, match="role"):
        create_api_key(db_session, role="superuser", tenant="acme")
    with pytest.raises(ValueError, match="tenant"):
        create_api_key(db_session, role="bank", tenant="  ")
    assert db_session.execute(sa.select(sa.func.count()).select_from(ApiKey)).scalar_one() == 0


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")  # spellchecker:disable-line
    assert not constant_time_equals("abc", "abcd")
