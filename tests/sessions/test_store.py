"""Server-side sessions: created, resolved, idle and absolute expiry, revocation,
step-up, tamper resistance; under the application role (row-level security)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from bastion.identity import IdentityService
from bastion.identity.directory import Directory
from bastion.sessions import (
    SessionInvalid,
    SessionPolicy,
    SessionStore,
    csrf_token,
    parse_session_policy,
)
from bastion.sessions.cookies import csrf_ok, session_cookie
from bastion.store.schema import SessionRow

POLICY = SessionPolicy(
    idle=timedelta(minutes=30), absolute=timedelta(hours=8), step_up=timedelta(minutes=5)
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def setup(engine: Engine, app_engine: Engine) -> tuple[SessionStore, Clock, str, str]:
    identity = IdentityService(engine)
    clock = Clock()
    tenant_id, _ = identity.ensure_tenant("acme", clock.now)
    user_id = identity.ensure_user("acme", "ana@acme.test", "member", clock.now)
    return SessionStore(app_engine, clock), clock, tenant_id, user_id


def test_a_session_resolves_until_idle_or_expired(engine: Engine, app_engine: Engine) -> None:
    store, clock, tenant_id, user_id = setup(engine, app_engine)
    issued = store.create(tenant_id, user_id, "oidc", clock.now, POLICY)
    info = store.resolve(issued.cookie, lambda _: POLICY)
    assert (info.tenant_name, info.user_email, info.role) == ("acme", "ana@acme.test", "member")
    # Used every 20 minutes, it stays open past the idle timeout...
    for _ in range(5):
        clock.now += timedelta(minutes=20)
        store.resolve(issued.cookie, lambda _: POLICY)
    # ...but 31 idle minutes end it, whatever happens next.
    clock.now += timedelta(minutes=31)
    with pytest.raises(SessionInvalid):
        store.resolve(issued.cookie, lambda _: POLICY)
    second = store.create(tenant_id, user_id, "oidc", clock.now, POLICY)
    for _ in range(24):  # used every 20 minutes for 8 hours: the absolute lifetime ends it
        clock.now += timedelta(minutes=20)
        if clock.now >= second.expires_at:
            break
        store.resolve(second.cookie, lambda _: POLICY)
    with pytest.raises(SessionInvalid):
        store.resolve(second.cookie, lambda _: POLICY)


def test_a_shorter_idle_timeout_applies_to_open_sessions(
    engine: Engine, app_engine: Engine
) -> None:
    store, clock, tenant_id, user_id = setup(engine, app_engine)
    issued = store.create(tenant_id, user_id, "saml", clock.now, POLICY)
    clock.now += timedelta(minutes=10)
    strict = SessionPolicy(idle=timedelta(minutes=5))
    with pytest.raises(SessionInvalid):
        store.resolve(issued.cookie, lambda _: strict)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # secret changed
        lambda c: c.split(".")[0],  # no secret
        lambda c: "00000000-0000-0000-0000-000000000000." + c.split(".")[1],  # other id
        lambda c: "",
        lambda c: "x" * 200,
    ],
    ids=["secret", "no-secret", "other-id", "empty", "garbage"],
)
def test_a_tampered_cookie_is_refused(engine: Engine, app_engine: Engine, mangle: object) -> None:
    store, clock, tenant_id, user_id = setup(engine, app_engine)
    issued = store.create(tenant_id, user_id, "oidc", clock.now, POLICY)
    with pytest.raises(SessionInvalid) as info:
        store.resolve(mangle(issued.cookie), lambda _: POLICY)  # type: ignore[operator]
    assert issued.cookie.split(".")[1] not in str(info.value)


def test_revocation_and_a_disabled_user_end_sessions(engine: Engine, app_engine: Engine) -> None:
    store, clock, tenant_id, user_id = setup(engine, app_engine)
    one = store.create(tenant_id, user_id, "oidc", clock.now, POLICY)
    two = store.create(tenant_id, user_id, "oidc", clock.now, POLICY)
    assert len(store.open_sessions(tenant_id)) == 2
    assert store.revoke(tenant_id, one.id) and not store.revoke(tenant_id, one.id)
    with pytest.raises(SessionInvalid):
        store.resolve(one.cookie, lambda _: POLICY)
    assert store.resolve(two.cookie, lambda _: POLICY).id == two.id
    assert store.revoke_user(tenant_id, user_id) == 1
    with pytest.raises(SessionInvalid):
        store.resolve(two.cookie, lambda _: POLICY)
    three = store.create(tenant_id, user_id, "oidc", clock.now, POLICY)
    Directory(engine).update_user(tenant_id, user_id, disabled=True)
    with pytest.raises(SessionInvalid):
        store.resolve(three.cookie, lambda _: POLICY)


def test_step_up_refreshes_the_sign_in_time(engine: Engine, app_engine: Engine) -> None:
    store, clock, tenant_id, user_id = setup(engine, app_engine)
    issued = store.create(tenant_id, user_id, "oidc", clock.now, POLICY)
    clock.now += timedelta(minutes=20)
    assert store.resolve(issued.cookie, lambda _: POLICY).authenticated_at < clock.now
    assert store.stepped_up(tenant_id, issued.id, clock.now)
    assert store.resolve(issued.cookie, lambda _: POLICY).authenticated_at == clock.now
    store.revoke(tenant_id, issued.id)
    assert not store.stepped_up(tenant_id, issued.id, clock.now)


def test_only_a_hash_of_the_secret_is_stored(engine: Engine, app_engine: Engine) -> None:
    store, clock, tenant_id, user_id = setup(engine, app_engine)
    issued = store.create(tenant_id, user_id, "oidc", clock.now, POLICY)
    with engine.connect() as conn:
        stored = conn.execute(select(SessionRow.secret_hash)).scalar_one()
    assert issued.cookie.split(".")[1] not in stored and len(stored) == 64
    assert "***" in repr(issued) and issued.cookie not in repr(issued)


def test_cookie_flags_and_csrf_token() -> None:
    value = "0f0e0d0c-0b0a-0908-0706-050403020100.abcdefghijklmnopqrstuvwxyz0123456789"
    header = session_cookie(value, datetime(2026, 12, 3, tzinfo=UTC), secure=True)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" in header
    token = csrf_token(value)
    assert csrf_ok(value, token)
    assert not csrf_ok(value, None) and not csrf_ok(value, token[:-1] + "x")
    other = value[:-1] + "X"
    assert not csrf_ok(other, token)
    assert csrf_token("not-a-cookie") == "" and not csrf_ok("not-a-cookie", "")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"idle": 5}, "unknown option 'idle'"),
        ({"idle_minutes": 0}, "idle_minutes must be"),
        ({"absolute_hours": "12"}, "absolute_hours must be"),
        ({"step_up_minutes": True}, "step_up_minutes must be"),
        ({"idle_minutes": 600, "absolute_hours": 2}, "must not exceed"),
    ],
)
def test_bad_session_tables_name_the_problem(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_session_policy(table)
    assert parse_session_policy({"idle_minutes": 10}).idle == timedelta(minutes=10)
