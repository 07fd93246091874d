"""Sign-in state in the database, shared by every replica.

:class:`LoginStates`: what a callback must match (OIDC state, nonce and PKCE verifier;
SAML request id), stored under the SHA-256 of the state value and taken exactly once:
a second callback with the same state finds nothing. :class:`DbReplayStore`: SAML
assertion ids already accepted, kept until the assertion expires, so a captured
response cannot be posted again on this or any other replica.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from bastion.store.schema import SsoReplayRow, SsoStateRow
from bastion.store.tenancy import tenant_begin

__all__ = ["LOGIN_TTL", "DbReplayStore", "LoginState", "LoginStates"]

LOGIN_TTL = timedelta(minutes=10)


def _key(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LoginState:
    protocol: str
    nonce: str = ""
    code_verifier: str = ""
    request_id: str = ""
    session_id: str | None = None  # a step-up of this session
    return_to: str = "/"

    def __repr__(self) -> str:
        return f"LoginState(protocol={self.protocol!r}, step_up={self.session_id is not None})"


class LoginStates:
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def __repr__(self) -> str:
        return "LoginStates()"

    def save(self, tenant_id: str, state: str, login: LoginState) -> None:
        now = self._clock()
        with tenant_begin(self._engine, tenant_id) as conn:
            conn.execute(
                delete(SsoStateRow).where(
                    SsoStateRow.tenant_id == tenant_id, SsoStateRow.expires_at <= now
                )
            )
            conn.execute(
                insert(SsoStateRow).values(
                    id=_key(state),
                    tenant_id=tenant_id,
                    protocol=login.protocol,
                    nonce=login.nonce,
                    code_verifier=login.code_verifier,
                    request_id=login.request_id,
                    session_id=login.session_id,
                    return_to=login.return_to,
                    created_at=now,
                    expires_at=now + LOGIN_TTL,
                )
            )

    def take(self, tenant_id: str, state: str, protocol: str) -> LoginState | None:
        """The sign-in ``state`` names, removed; None if unknown, used, expired or of
        another protocol."""
        key = _key(state)
        with tenant_begin(self._engine, tenant_id) as conn:
            mine = (SsoStateRow.tenant_id == tenant_id) & (SsoStateRow.id == key)
            row = conn.execute(select(*SsoStateRow.__table__.columns).where(mine)).first()
            if row is None:
                return None
            gone = conn.execute(delete(SsoStateRow).where(mine))
            if gone.rowcount != 1 or row.expires_at <= self._clock() or row.protocol != protocol:
                return None
            return LoginState(
                protocol=row.protocol,
                nonce=row.nonce,
                code_verifier=row.code_verifier,
                request_id=row.request_id,
                session_id=row.session_id,
                return_to=row.return_to,
            )


class DbReplayStore:
    """SAML's replay protection across replicas (``ReplayStore`` of ``bastion.sso.saml``)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def __repr__(self) -> str:
        return "DbReplayStore()"

    def remember(self, tenant_id: str, assertion_id: str, expires_at: datetime) -> bool:
        """True the first time an assertion id is seen (until it expires), else False."""
        now = self._clock()
        try:
            with tenant_begin(self._engine, tenant_id) as conn:
                conn.execute(
                    delete(SsoReplayRow).where(
                        SsoReplayRow.tenant_id == tenant_id, SsoReplayRow.expires_at <= now
                    )
                )
                conn.execute(
                    insert(SsoReplayRow).values(
                        tenant_id=tenant_id, assertion_id=assertion_id, expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        return True
