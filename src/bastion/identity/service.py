"""Tenants, users and API keys: creation, listing, revocation, authentication.

Plain synchronous service over a SQLAlchemy engine; the gateway calls
:meth:`IdentityService.authenticate` from a worker thread. Every method that
depends on time takes ``now`` so expiry is testable exactly. Tenants are named by
the command line and found through the ``tenant_name`` lookup; every other
statement runs bound to one tenant (``bastion.store.tenancy``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from bastion.authz import ROLES, canonical_role
from bastion.errors import AuthenticationFailed
from bastion.identity.keys import generate_key, hash_key, parse_key, verify_key
from bastion.store.rls import require_all_tenants
from bastion.store.schema import ApiKey, Tenant, User
from bastion.store.tenancy import bind_lookup, bind_tenant, maintenance

__all__ = [
    "KEY_INFO_QUERY",
    "PRINCIPAL_QUERY",
    "IdentityError",
    "IdentityService",
    "IssuedKey",
    "KeyInfo",
    "Principal",
    "insert_key",
    "insert_user",
]


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


# Authentication runs before the tenant is known: the key is found by its public
# prefix (the one row the ``key_prefix`` lookup shows), then its tenant is bound to
# read the user and tenant. Module-level statements: the tenant guard rewrites each
# once and SQLAlchemy reuses its compiled form.
_KEY_BY_PREFIX = select(
    ApiKey.id,
    ApiKey.secret_hash,
    ApiKey.expires_at,
    ApiKey.revoked_at,
    ApiKey.tenant_id,
    ApiKey.user_id,
).where(ApiKey.prefix == bindparam("prefix"))
PRINCIPAL_QUERY = (
    select(Tenant.name, Tenant.policy, User.email, User.role, User.disabled)
    .join(User, User.tenant_id == Tenant.id)
    .where(Tenant.id == bindparam("tenant_id"), User.id == bindparam("user_id"))
)
KEY_INFO_QUERY = select(
    ApiKey.id,
    ApiKey.prefix,
    ApiKey.name,
    User.email,
    User.role,
    ApiKey.created_at,
    ApiKey.expires_at,
    ApiKey.revoked_at,
).join(User, User.id == ApiKey.user_id)


class IdentityService:
    """Tenants, users and keys. Every statement runs bound to the tenant it concerns
    (see ``bastion.store.tenancy``), so the application's database role suffices."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- tenants and users -------------------------------------------------
    def ensure_tenant(self, name: str, now: datetime, policy: str = "default") -> tuple[str, bool]:
        """The tenant's id, creating it if needed; the flag says whether it was created.

        The new row is inserted bound to its own new id, which is all the application
        role may insert into ``tenants``.
        """
        with self._engine.begin() as conn:
            found = _find_tenant(conn, name)
            if found is not None:
                return found, False
            tenant_id = str(uuid.uuid4())
            bind_tenant(conn, tenant_id)
            conn.execute(
                insert(Tenant).values(id=tenant_id, name=name, policy=policy, created_at=now)
            )
            return tenant_id, True

    def ensure_user(self, tenant: str, email: str, role: str, now: datetime) -> str:
        role = canonical_role(role)
        if role not in ROLES:
            raise IdentityError(f"unknown role {role!r:.40}; known: {', '.join(ROLES)}")
        with self._engine.begin() as conn:
            return _ensure_user(conn, _bind_tenant_named(conn, tenant), email, role, now)

    def tenant_id(self, tenant: str) -> str:
        with self._engine.connect() as conn:
            found = _find_tenant(conn, tenant)
        if found is None:
            raise IdentityError(f"no tenant named {tenant!r}")
        return found

    def tenant_policy(self, tenant: str) -> str:
        """The name of the policy the tenant runs under."""
        with self._engine.connect() as conn:
            tenant_id = _bind_tenant_named(conn, tenant)
            policy = conn.execute(select(Tenant.policy).where(Tenant.id == tenant_id)).scalar()
        if policy is None:
            raise IdentityError(f"no tenant named {tenant!r}")
        return policy

    def tenant_count(self) -> int:
        """How many tenants exist: a cross-tenant read, on a maintenance connection
        (on PostgreSQL only the owner role sees them all)."""
        with maintenance(self._engine).connect() as conn:
            require_all_tenants(conn)
            return int(conn.execute(select(func.count()).select_from(Tenant)).scalar_one())

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
        role = canonical_role(role)
        if role not in ROLES:
            raise IdentityError(f"unknown role {role!r:.40}; known: {', '.join(ROLES)}")
        with self._engine.begin() as conn:
            tenant_id = _bind_tenant_named(conn, tenant)
            user_id = _ensure_user(conn, tenant_id, user_email, role, now)
            key_id, prefix, secret = insert_key(conn, tenant_id, user_id, now, name, expires_at)
        return IssuedKey(
            id=key_id, prefix=prefix, secret=secret, tenant=tenant, user_email=user_email
        )

    def list_keys(self, tenant: str) -> list[KeyInfo]:
        query = KEY_INFO_QUERY.order_by(ApiKey.created_at, ApiKey.id)
        with self._engine.connect() as conn:
            tenant_id = _bind_tenant_named(conn, tenant)
            rows = conn.execute(query.where(ApiKey.tenant_id == tenant_id)).all()
        return [KeyInfo(*row) for row in rows]

    def revoke_key(self, key: str, now: datetime) -> KeyInfo:
        """Revoke by id or prefix (idempotent); returns the key's new state."""
        with self._engine.begin() as conn:
            bind_lookup(conn, key_id=key, key_prefix=key)
            row = conn.execute(
                select(ApiKey.id, ApiKey.tenant_id, ApiKey.revoked_at).where(
                    (ApiKey.id == key) | (ApiKey.prefix == key)
                )
            ).first()
            if row is None:
                raise IdentityError("no such key")
            bind_tenant(conn, row.tenant_id)
            if row.revoked_at is None:
                conn.execute(update(ApiKey).where(ApiKey.id == row.id).values(revoked_at=now))
            info = conn.execute(KEY_INFO_QUERY.where(ApiKey.id == row.id)).one()
        return KeyInfo(*info)

    # -- authentication -------------------------------------------------------
    def authenticate(self, raw: str, now: datetime) -> Principal:
        """The principal for a presented key, or :class:`AuthenticationFailed`.

        Every failure (malformed, unknown, wrong secret, revoked, expired, disabled
        user) raises the same error so the response is no oracle. On PostgreSQL this
        is two round trips more than one query: the prefix lookup and the tenant are
        each bound with ``set_config`` (a cache in front spares most calls).
        """
        parsed = parse_key(raw)
        if parsed is None:
            raise AuthenticationFailed()
        with self._engine.connect() as conn:
            bind_lookup(conn, key_prefix=parsed.prefix)
            key = conn.execute(_KEY_BY_PREFIX, {"prefix": parsed.prefix}).first()
            if key is None or not verify_key(parsed.full, key.secret_hash):
                raise AuthenticationFailed()
            if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
                raise AuthenticationFailed()
            bind_tenant(conn, key.tenant_id)
            found = conn.execute(
                PRINCIPAL_QUERY, {"tenant_id": key.tenant_id, "user_id": key.user_id}
            ).first()
        if found is None:
            raise AuthenticationFailed()
        tenant_name, policy, email, role, disabled = found
        if disabled:
            raise AuthenticationFailed()
        return Principal(
            tenant_id=key.tenant_id,
            tenant_name=tenant_name,
            policy=policy,
            user_id=key.user_id,
            user_email=email,
            role=role,
            key_id=key.id,
            key_expires_at=key.expires_at,
        )


def _find_tenant(conn: Connection, name: str) -> str | None:
    """A tenant's id by name, through the ``tenant_name`` lookup."""
    bind_lookup(conn, tenant_name=name)
    return conn.execute(select(Tenant.id).where(Tenant.name == name)).scalar()


def _bind_tenant_named(conn: Connection, name: str) -> str:
    """Bind the transaction to the tenant called ``name``; its id."""
    tenant_id = _find_tenant(conn, name)
    if tenant_id is None:
        raise IdentityError(f"no tenant named {name!r}")
    bind_tenant(conn, tenant_id)
    return tenant_id


def _ensure_user(conn: Connection, tenant_id: str, email: str, role: str, now: datetime) -> str:
    """The user's id in the bound tenant, creating it with ``role`` if new."""
    found = conn.execute(
        select(User.id).where(User.tenant_id == tenant_id, User.email == email)
    ).scalar()
    if found is not None:
        return str(found)
    return insert_user(conn, tenant_id, email, role, now)


def insert_user(conn: Connection, tenant_id: str, email: str, role: str, now: datetime) -> str:
    """Add an enabled user to the bound tenant; its new id."""
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


def insert_key(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    now: datetime,
    name: str,
    expires_at: datetime | None,
) -> tuple[str, str, str]:
    """Issue a key for a user of the bound tenant: ``(id, prefix, secret)``; only the
    secret's hash is stored."""
    key = generate_key()
    key_id = str(uuid.uuid4())
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
    return key_id, key.prefix, key.full
