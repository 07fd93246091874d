"""Sign-in states are taken once and expire; SAML assertion ids are refused a second
time until they expire; under row-level security on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from bastion.identity import IdentityService
from bastion.sso.store import LOGIN_TTL, DbReplayStore, LoginState, LoginStates


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def tenants(engine: Engine) -> tuple[str, str]:
    identity = IdentityService(engine)
    now = datetime.now(UTC)
    return identity.ensure_tenant("acme", now)[0], identity.ensure_tenant("globex", now)[0]


def test_a_login_state_is_taken_once(engine: Engine, app_engine: Engine) -> None:
    acme, globex = tenants(engine)
    clock = Clock()
    states = LoginStates(app_engine, clock)
    login = LoginState("oidc", nonce="n1", code_verifier="v" * 43, return_to="/console")
    states.save(acme, "state-1", login)
    assert states.take(globex, "state-1", "oidc") is None  # another tenant's callback
    assert states.take(acme, "state-1", "saml") is None  # wrong protocol: gone as well
    states.save(acme, "state-2", login)
    assert states.take(acme, "state-2", "oidc") == login
    assert states.take(acme, "state-2", "oidc") is None  # replayed callback
    states.save(acme, "state-3", login)
    clock.now += LOGIN_TTL + timedelta(seconds=1)
    assert states.take(acme, "state-3", "oidc") is None  # expired
    assert "n1" not in repr(login) and "vvv" not in repr(login)


def test_an_assertion_id_is_accepted_once_until_it_expires(
    engine: Engine, app_engine: Engine
) -> None:
    acme, globex = tenants(engine)
    clock = Clock()
    replay = DbReplayStore(app_engine, clock)
    until = clock.now + timedelta(minutes=5)
    assert replay.remember(acme, "_abc", until)
    assert not replay.remember(acme, "_abc", until)
    assert replay.remember(globex, "_abc", until)  # tenants are apart
    clock.now = until + timedelta(seconds=1)
    assert replay.remember(acme, "_abc", clock.now + timedelta(minutes=5))
