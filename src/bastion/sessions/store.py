"""Sessions in the database: created at sign-in, resolved per request, revoked for good.

Every check happens on resolve: the secret (constant-time hash comparison), revocation,
the absolute lifetime, the idle timeout (from the tenant's policy at that moment, so a
shortened timeout applies to sessions already open) and the user being enabled. Any
failure is the same :class:`SessionInvalid`. ``last_seen_at`` is written at most once
per :data:`TOUCH_EVERY`, not on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, insert, select, update

from bastion.identity.service import PRINCIPAL_QUERY
from bastion.sessions.config import SessionPolicy
from bastion.sessions.cookies import split_cookie
from bastion.sessions.errors import SessionInvalid
from bastion.store.schema import SessionRow, User
from bastion.store.tenancy import bind_lookup, bind_tenant, tenant_begin, tenant_connect

__all__ = ["TOUCH_EVERY", "IssuedSession", "SessionInfo", "SessionStore"]

TOUCH_EVERY = timedelta(seconds=60)

_BY_ID = select(
    SessionRow.tenant_id,
    SessionRow.user_id,
    SessionRow.secret_hash,
    SessionRow.method,
    SessionRow.created_at,
    SessionRow.authenticated_at,
    SessionRow.last_seen_at,
    SessionRow.expires_at,
    SessionRow.revoked_at,
).where(SessionRow.id == bindparam("session_id"))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new session. ``cookie`` is the cookie value, shown once and never stored."""

    id: str
    cookie: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"IssuedSession(id={self.id!r}, cookie='***')"


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A valid session and whose it is."""

    id: str
    tenant_id: str
    tenant_name: str
    policy: str
    user_id: str
    user_email: str
    role: str
    method: str
    created_at: datetime
    authenticated_at: datetime
    last_seen_at: datetime
    expires_at: datetime


class SessionStore:
    """Sessions of every tenant, each statement bound to its tenant."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def __repr__(self) -> str:
        return "SessionStore()"

    def create(
        self,
        tenant_id: str,
        user_id: str,
        method: str,
        authenticated_at: datetime,
        policy: SessionPolicy,
    ) -> IssuedSession:
        now = self._clock()
        session_id = str(uuid.uuid4())
        secret = secrets.token_urlsafe(32)
        expires_at = now + policy.absolute
        with tenant_begin(self._engine, tenant_id) as conn:
            conn.execute(
                insert(SessionRow).values(
                    id=session_id,
                    tenant_id=tenant_id,
                    user_id=user_id,
                    secret_hash=_hash(secret),
                    method=method,
                    created_at=now,
                    authenticated_at=min(authenticated_at, now),
                    last_seen_at=now,
                    expires_at=expires_at,
                    revoked_at=None,
                )
            )
        return IssuedSession(session_id, f"{session_id}.{secret}", expires_at)

    def resolve(self, cookie: str, policy_for: Callable[[str], SessionPolicy]) -> SessionInfo:
        """The session a cookie names, if every check passes; ``policy_for`` gives the
        session rules of a tenant's policy (by policy name)."""
        parts = split_cookie(cookie)
        if parts is None:
            raise SessionInvalid()
        session_id, secret = parts
        now = self._clock()
        with self._engine.connect() as conn:
            bind_lookup(conn, session_id=session_id)
            row = conn.execute(_BY_ID, {"session_id": session_id}).first()
            if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
                raise SessionInvalid()
            if row.revoked_at is not None or row.expires_at <= now:
                raise SessionInvalid()
            bind_tenant(conn, row.tenant_id)
            owner = conn.execute(
                PRINCIPAL_QUERY, {"tenant_id": row.tenant_id, "user_id": row.user_id}
            ).first()
        if owner is None or owner.disabled:
            raise SessionInvalid()
        if now - row.last_seen_at >= policy_for(owner.policy).idle:
            raise SessionInvalid()
        if now - row.last_seen_at >= TOUCH_EVERY:
            self._touch(row.tenant_id, session_id, now)
        return SessionInfo(
            id=session_id,
            tenant_id=row.tenant_id,
            tenant_name=owner.name,
            policy=owner.policy,
            user_id=row.user_id,
            user_email=owner.email,
            role=owner.role,
            method=row.method,
            created_at=row.created_at,
            authenticated_at=row.authenticated_at,
            last_seen_at=now,
            expires_at=row.expires_at,
        )

    def _touch(self, tenant_id: str, session_id: str, now: datetime) -> None:
        with tenant_begin(self._engine, tenant_id) as conn:
            conn.execute(
                update(SessionRow)
                .where(SessionRow.id == session_id, SessionRow.last_seen_at < now)
                .values(last_seen_at=now)
            )

    def stepped_up(self, tenant_id: str, session_id: str, authenticated_at: datetime) -> bool:
        """Record a fresh sign-in on an open session (step-up); False if it is gone."""
        now = self._clock()
        with tenant_begin(self._engine, tenant_id) as conn:
            done = conn.execute(
                update(SessionRow)
                .where(
                    SessionRow.id == session_id,
                    SessionRow.revoked_at.is_(None),
                    SessionRow.expires_at > now,
                )
                .values(authenticated_at=min(authenticated_at, now), last_seen_at=now)
            )
        return done.rowcount == 1

    def revoke(self, tenant_id: str, session_id: str) -> bool:
        """End one session for good; False if it was not open."""
        with tenant_begin(self._engine, tenant_id) as conn:
            done = conn.execute(
                update(SessionRow)
                .where(SessionRow.id == session_id, SessionRow.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
        return done.rowcount == 1

    def revoke_user(self, tenant_id: str, user_id: str) -> int:
        """End every open session of a user (disabled, role changed, signed out
        everywhere); how many were open."""
        with tenant_begin(self._engine, tenant_id) as conn:
            done = conn.execute(
                update(SessionRow)
                .where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
        return done.rowcount

    def open_sessions(self, tenant_id: str, user_id: str | None = None) -> list[dict[str, object]]:
        """The tenant's (or one user's) sessions not revoked nor past their lifetime."""
        query = (
            select(
                SessionRow.id,
                SessionRow.user_id,
                User.email,
                SessionRow.method,
                SessionRow.created_at,
                SessionRow.authenticated_at,
                SessionRow.last_seen_at,
                SessionRow.expires_at,
            )
            .join(User, User.id == SessionRow.user_id)
            .where(
                SessionRow.tenant_id == tenant_id,
                SessionRow.revoked_at.is_(None),
                SessionRow.expires_at > self._clock(),
            )
            .order_by(SessionRow.created_at)
        )
        if user_id is not None:
            query = query.where(SessionRow.user_id == user_id)
        with tenant_connect(self._engine, tenant_id) as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
