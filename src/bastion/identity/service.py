"""Tenants, users and API keys: creation, listing, revocation, authentication.

Plain synchronous service over a SQLAlchemy engine; the gateway calls
:meth:`IdentityService.authenticate` from a worker thread. Every method that
depends on time takes ``now`` so expiry is testable exactly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from bastion.authz import ROLES
from bastion.errors import AuthenticationFailed
from bastion.identity.keys import generate_key, hash_key, parse_key, verify_key
from bastion.store.schema import ApiKey, Tenant, User

__all__ = ["IdentityError", "IdentityService", "IssuedKey", "KeyInfo", "Principal"]


class IdentityError(ValueError):
    """A management call was given something that does not exist or is invalid."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: resolved from a key (later also from an SSO session)."""

    tenant_id: str
    tenant_name: str
    policy: str
    user_id: str
    user_email: str
    role: str
    key_id: str
    session_id: str | None = None
    key_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly created key. ``secret`` is shown once and never stored."""

    id: str
    prefix: str
    secret: str
    tenant: str
    user_email: str

    def __repr__(self) -> str:
        return f"IssuedKey(id={self.id!r}, prefix={self.prefix!r}, secret='***')"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    prefix: str
    name: str
    user_email: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


_AUTH_QUERY = (
    select(
        ApiKey.id,
        ApiKey.secret_hash,
        ApiKey.expires_at,
        ApiKey.revoked_at,
        Tenant.id,
        Tenant.name,
        Tenant.policy,
        User.id,
        User.email,
        User.role,
        User.disabled,
    )
    .join(User, User.id == ApiKey.user_id)
    .join(Tenant, Tenant.id == ApiKey.tenant_id)
)


class IdentityService:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- tenants and users -------------------------------------------------
    def ensure_tenant(self, name: str, now: datetime, policy: str = "default") -> tuple[str, bool]:
        """The tenant's id, creating it if needed; the flag says whether it was created."""
        with self._engine.begin() as conn:
            found = conn.execute(select(Tenant.id).where(Tenant.name == name)).scalar()
            if found is not None:
                return found, False
            tenant_id = str(uuid.uuid4())
            conn.execute(
                insert(Tenant).values(id=tenant_id, name=name, policy=policy, created_at=now)
            )
            return tenant_id, True

    def ensure_user(self, tenant: str, email: str, role: str, now: datetime) -> str:
        if role not in ROLES:
            raise IdentityError(f"unknown role {role!r}; known: {', '.join(sorted(ROLES))}")
        tenant_id = self.tenant_id(tenant)
        with self._engine.begin() as conn:
            found = conn.execute(
                select(User.id).where(User.tenant_id == tenant_id, User.email == email)
            ).scalar()
            if found is not None:
                return found
            user_id = str(uuid.uuid4())
            conn.execute(
                insert(User).values(
                    id=user_id,
                    tenant_id=tenant_id,
                    email=email,
                    role=role,
                    disabled=False,
                    created_at=now,
                )
            )
            return user_id

    def tenant_id(self, tenant: str) -> str:
        with self._engine.connect() as conn:
            found = conn.execute(select(Tenant.id).where(Tenant.name == tenant)).scalar()
        if found is None:
            raise IdentityError(f"no tenant named {tenant!r}")
        return found

    def tenant_count(self) -> int:
        with self._engine.connect() as conn:
            return len(conn.execute(select(Tenant.id)).all())

    # -- keys ----------------------------------------------------------------
    def create_key(
        self,
        tenant: str,
        user_email: str,
        now: datetime,
        *,
        name: str = "",
        role: str = "member",
        expires_at: datetime | None = None,
    ) -> IssuedKey:
        """Issue a key for ``user_email`` (created with ``role`` if new)."""
        if expires_at is not None and expires_at <= now:
            raise IdentityError("expiry must be in the future")
        user_id = self.ensure_user(tenant, user_email, role, now)
        tenant_id = self.tenant_id(tenant)
        key = generate_key()
        key_id = str(uuid.uuid4())
        with self._engine.begin() as conn:
            conn.execute(
                insert(ApiKey).values(
                    id=key_id,
                    prefix=key.prefix,
                    secret_hash=hash_key(key.full),
                    tenant_id=tenant_id,
                    user_id=user_id,
                    name=name,
                    created_at=now,
                    expires_at=expires_at,
                    revoked_at=None,
                )
            )
        return IssuedKey(
            id=key_id, prefix=key.prefix, secret=key.full, tenant=tenant, user_email=user_email
        )

    def list_keys(self, tenant: str) -> list[KeyInfo]:
        tenant_id = self.tenant_id(tenant)
        query = (
            select(
                ApiKey.id,
                ApiKey.prefix,
                ApiKey.name,
                User.email,
                User.role,
                ApiKey.created_at,
                ApiKey.expires_at,
                ApiKey.revoked_at,
            )
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.tenant_id == tenant_id)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
        with self._engine.connect() as conn:
            return [KeyInfo(*row) for row in conn.execute(query).all()]

    def revoke_key(self, key: str, now: datetime) -> KeyInfo:
        """Revoke by id or prefix (idempotent); returns the key's new state."""
        with self._engine.begin() as conn:
            row = conn.execute(
                select(ApiKey.id, ApiKey.revoked_at).where(
                    (ApiKey.id == key) | (ApiKey.prefix == key)
                )
            ).first()
            if row is None:
                raise IdentityError("no such key")
            if row.revoked_at is None:
                conn.execute(update(ApiKey).where(ApiKey.id == row.id).values(revoked_at=now))
        tenant = self._tenant_name_of_key(row.id)
        return next(k for k in self.list_keys(tenant) if k.id == row.id)

    def _tenant_name_of_key(self, key_id: str) -> str:
        query = select(Tenant.name).join(ApiKey, ApiKey.tenant_id == Tenant.id)
        with self._engine.connect() as conn:
            return conn.execute(query.where(ApiKey.id == key_id)).scalar_one()

    # -- authentication -------------------------------------------------------
    def authenticate(self, raw: str, now: datetime) -> Principal:
        """The principal for a presented key, or :class:`AuthenticationFailed`.

        Every failure (malformed, unknown, wrong secret, revoked, expired, disabled
        user) raises the same error so the response is no oracle.
        """
        parsed = parse_key(raw)
        if parsed is None:
            raise AuthenticationFailed()
        with self._engine.connect() as conn:
            row = conn.execute(_AUTH_QUERY.where(ApiKey.prefix == parsed.prefix)).first()
        if row is None:
            raise AuthenticationFailed()
        (key_id, secret_hash, expires_at, revoked_at, tenant_id, tenant_name, policy) = row[:7]
        user_id, email, role, disabled = row[7:]
        if not verify_key(parsed.full, secret_hash):
            raise AuthenticationFailed()
        if revoked_at is not None or disabled or (expires_at is not None and expires_at <= now):
            raise AuthenticationFailed()
        return Principal(
            tenant_id=tenant_id,
            tenant_name=tenant_name,
            policy=policy,
            user_id=user_id,
            user_email=email,
            role=role,
            key_id=key_id,
            key_expires_at=expires_at,
        )
