"""API keys: shown once, stored hashed, found by prefix, expiring and revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from bastion.errors import AuthenticationFailed
from bastion.identity import IdentityError, IdentityService, generate_key, parse_key
from bastion.store.schema import ApiKey

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def identity(engine: Engine) -> IdentityService:
    service = IdentityService(engine)
    service.ensure_tenant("acme", T0)
    return service


def test_key_is_stored_only_as_a_hash(identity: IdentityService, engine: Engine) -> None:
    """The database holds the prefix and a SHA-256, never the secret."""
    issued = identity.create_key("acme", "a@acme.test", T0)
    with engine.connect() as conn:
        row = conn.execute(select(ApiKey)).one()
    stored = " ".join(str(v) for v in row)
    assert issued.secret not in stored
    assert issued.secret.split("_", 2)[2] not in stored
    assert row.prefix == issued.prefix
    assert "secret='***'" in repr(issued)


def test_authenticate_resolves_principal(identity: IdentityService) -> None:
    """A valid key resolves to its tenant, user and role."""
    issued = identity.create_key("acme", "a@acme.test", T0, role="admin")
    principal = identity.authenticate(issued.secret, T0)
    assert (principal.tenant_name, principal.user_email, principal.role) == (
        "acme",
        "a@acme.test",
        "admin",
    )
    assert principal.key_id == issued.id


@pytest.mark.parametrize(
    "mutate",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # right prefix, wrong secret
        lambda k: k.replace("bst_", "bsx_"),  # wrong shape
        lambda k: "",  # missing
        lambda k: k + "x",  # too long
        lambda k: "bst_aaaaaaaaaaaa_" + k.split("_", 2)[2],  # unknown prefix
    ],
)
def test_bad_keys_fail_identically(identity: IdentityService, mutate: object) -> None:
    """Every malformed or wrong key raises the same AuthenticationFailed."""
    issued = identity.create_key("acme", "a@acme.test", T0)
    with pytest.raises(AuthenticationFailed) as info:
        identity.authenticate(mutate(issued.secret), T0)  # type: ignore[operator]
    assert info.value.message == "Invalid or missing API key."


def test_expired_key_fails_at_exact_instant(identity: IdentityService) -> None:
    """A key works until its expiry instant and not at or after it."""
    expires = T0 + timedelta(hours=1)
    issued = identity.create_key("acme", "a@acme.test", T0, expires_at=expires)
    identity.authenticate(issued.secret, expires - timedelta(microseconds=1))
    with pytest.raises(AuthenticationFailed):
        identity.authenticate(issued.secret, expires)


def test_revoked_key_fails_and_revoke_is_idempotent(identity: IdentityService) -> None:
    """Revocation by prefix stops the key at once; revoking again is harmless."""
    issued = identity.create_key("acme", "a@acme.test", T0)
    info = identity.revoke_key(issued.prefix, T0)
    assert info.status(T0) == "revoked"
    identity.revoke_key(issued.id, T0)
    with pytest.raises(AuthenticationFailed):
        identity.authenticate(issued.secret, T0)


def test_unknown_role_and_tenant_are_refused(identity: IdentityService) -> None:
    """Management calls name what is wrong."""
    with pytest.raises(IdentityError, match="unknown role"):
        identity.create_key("acme", "a@acme.test", T0, role="root")
    with pytest.raises(IdentityError, match="no tenant"):
        identity.create_key("nope", "a@acme.test", T0)
    with pytest.raises(IdentityError, match="future"):
        identity.create_key("acme", "a@acme.test", T0, expires_at=T0)


def test_generated_keys_parse_and_differ() -> None:
    """Generated keys match the documented shape and never repeat."""
    keys = {generate_key().full for _ in range(200)}
    assert len(keys) == 200
    assert all(parse_key(k) is not None for k in keys)
    assert "***" in repr(parse_key(next(iter(keys))))
