"""One tenant's users and keys, by id: what the admin API and sign-in need.

:class:`IdentityService` serves the command line, which names tenants; this serves
requests, which already carry their tenant id. Every statement is bound to that tenant,
so one tenant's admin can never read or change another tenant's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from bastion.authz import ROLES, canonical_role
from bastion.identity.service import (
    KEY_INFO_QUERY,
    IdentityError,
    IssuedKey,
    KeyInfo,
    insert_key,
    insert_user,
)
from bastion.store.schema import ApiKey, SsoIdentityRow, Tenant, User
from bastion.store.tenancy import bind_lookup, tenant_begin, tenant_connect

__all__ = ["Directory", "UserInfo"]

_KEYS = KEY_INFO_QUERY
_USERS = select(User.id, User.email, User.role, User.disabled, User.created_at)


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: str
    email: str
    role: str
    disabled: bool
    created_at: datetime


def _role(role: str) -> str:
    role = canonical_role(role)
    if role not in ROLES:
        raise IdentityError(f"unknown role {role!r:.40}; known: {', '.join(ROLES)}")
    return role


class Directory:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __repr__(self) -> str:
        return "Directory()"

    # -- users ------------------------------------------------------------------
    def users(self, tenant_id: str) -> list[UserInfo]:
        query = _USERS.where(User.tenant_id == tenant_id).order_by(User.created_at, User.email)
        with tenant_connect(self._engine, tenant_id) as conn:
            return [UserInfo(*row) for row in conn.execute(query)]

    def user(self, tenant_id: str, user_id: str) -> UserInfo:
        query = _USERS.where(User.tenant_id == tenant_id, User.id == user_id)
        with tenant_connect(self._engine, tenant_id) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise IdentityError("no such user")
        return UserInfo(*row)

    def add_user(self, tenant_id: str, email: str, role: str, now: datetime) -> UserInfo:
        role = _role(role)
        with tenant_begin(self._engine, tenant_id) as conn:
            taken = conn.execute(
                select(User.id).where(User.tenant_id == tenant_id, User.email == email)
            ).first()
            if taken is not None:
                raise IdentityError("a user with this email exists")
            user_id = insert_user(conn, tenant_id, email, role, now)
        return UserInfo(user_id, email, role, False, now)

    def update_user(
        self, tenant_id: str, user_id: str, *, role: str | None = None, disabled: bool | None = None
    ) -> UserInfo:
        values: dict[str, object] = {}
        if role is not None:
            values["role"] = _role(role)
        if disabled is not None:
            values["disabled"] = disabled
        if values:
            with tenant_begin(self._engine, tenant_id) as conn:
                done = conn.execute(
                    update(User)
                    .where(User.tenant_id == tenant_id, User.id == user_id)
                    .values(**values)
                )
            if done.rowcount != 1:
                raise IdentityError("no such user")
        return self.user(tenant_id, user_id)

    def provision(
        self,
        tenant_id: str,
        idp: str,
        subject: str,
        email: str,
        role: str,
        now: datetime,
        *,
        create: bool,
    ) -> UserInfo | None:
        """The user an IdP subject signs in as, its role set to ``role`` (the IdP is the
        source of truth). Found by ``(idp, subject)``; a subject seen for the first time
        is linked to the user with its (verified) email if that user has no identity of
        this IdP yet, else, with ``create`` (just-in-time), a new user is made. None when
        there is nobody to sign in as, or the user is disabled."""
        role = _role(role)
        with tenant_begin(self._engine, tenant_id) as conn:
            linked = conn.execute(
                select(SsoIdentityRow.user_id).where(
                    SsoIdentityRow.tenant_id == tenant_id,
                    SsoIdentityRow.idp == idp,
                    SsoIdentityRow.subject == subject,
                )
            ).scalar()
            if linked is not None:
                row = conn.execute(_USERS.where(User.id == linked)).first()
            else:
                row = conn.execute(
                    _USERS.where(User.tenant_id == tenant_id, User.email == email)
                ).first()
                if (
                    row is not None
                    and conn.execute(
                        select(SsoIdentityRow.subject).where(
                            SsoIdentityRow.tenant_id == tenant_id,
                            SsoIdentityRow.idp == idp,
                            SsoIdentityRow.user_id == row.id,
                        )
                    ).first()
                ):
                    return None  # that user signs in as another subject of this IdP
                if row is None:
                    if not create:
                        return None
                    user_id = insert_user(conn, tenant_id, email, role, now)
                    row = conn.execute(_USERS.where(User.id == user_id)).first()
                assert row is not None
                conn.execute(
                    insert(SsoIdentityRow).values(
                        tenant_id=tenant_id,
                        idp=idp,
                        subject=subject,
                        user_id=row.id,
                        created_at=now,
                    )
                )
            if row is None:
                return None
            found = UserInfo(*row)
            if found.disabled:
                return None
            if found.role != role:
                conn.execute(update(User).where(User.id == found.id).values(role=role))
            return UserInfo(found.id, found.email, role, False, found.created_at)

    def tenant(self, tenant_id: str) -> tuple[str, str]:
        """The tenant's name and policy."""
        query = select(Tenant.name, Tenant.policy).where(Tenant.id == tenant_id)
        with tenant_connect(self._engine, tenant_id) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise IdentityError("no such tenant")
        return str(row.name), str(row.policy)

    def tenant_name(self, tenant_id: str) -> str:
        return self.tenant(tenant_id)[0]

    def rename_tenant(self, tenant_id: str, name: str) -> None:
        with tenant_begin(self._engine, tenant_id) as conn:
            bind_lookup(conn, tenant_name=name)
            taken = conn.execute(
                select(Tenant.id).where(Tenant.name == name, Tenant.id != tenant_id)
            ).first()
            if taken is not None:
                raise IdentityError("a tenant with this name exists")
            conn.execute(update(Tenant).where(Tenant.id == tenant_id).values(name=name))

    def set_policy(self, tenant_id: str, policy: str) -> None:
        with tenant_begin(self._engine, tenant_id) as conn:
            conn.execute(update(Tenant).where(Tenant.id == tenant_id).values(policy=policy))

    def owners(self, tenant_id: str) -> int:
        """How many enabled owners the tenant has (the last one may not go)."""
        return sum(1 for u in self.users(tenant_id) if u.role == "owner" and not u.disabled)

    # -- keys -------------------------------------------------------------------
    def keys(self, tenant_id: str, user_id: str | None = None) -> list[KeyInfo]:
        query = _KEYS.where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at, ApiKey.id)
        if user_id is not None:
            query = query.where(ApiKey.user_id == user_id)
        with tenant_connect(self._engine, tenant_id) as conn:
            return [KeyInfo(*row) for row in conn.execute(query)]

    def key_owner(self, tenant_id: str, key_id: str) -> str:
        with tenant_connect(self._engine, tenant_id) as conn:
            owner = conn.execute(
                select(ApiKey.user_id).where(ApiKey.tenant_id == tenant_id, ApiKey.id == key_id)
            ).scalar()
        if owner is None:
            raise IdentityError("no such key")
        return str(owner)

    def create_key(
        self,
        tenant_id: str,
        user_id: str,
        now: datetime,
        *,
        name: str = "",
        expires_at: datetime | None = None,
    ) -> IssuedKey:
        if expires_at is not None and expires_at <= now:
            raise IdentityError("expiry must be in the future")
        user = self.user(tenant_id, user_id)
        if user.disabled:
            raise IdentityError("the user is disabled")
        with tenant_begin(self._engine, tenant_id) as conn:
            key_id, prefix, secret = insert_key(conn, tenant_id, user_id, now, name, expires_at)
        return IssuedKey(key_id, prefix, secret, self.tenant_name(tenant_id), user.email)

    def revoke_key(self, tenant_id: str, key_id: str, now: datetime) -> KeyInfo:
        """Revoke one of the tenant's keys (idempotent); its new state."""
        mine = (ApiKey.tenant_id == tenant_id) & (ApiKey.id == key_id)
        with tenant_begin(self._engine, tenant_id) as conn:
            conn.execute(
                update(ApiKey).where(mine, ApiKey.revoked_at.is_(None)).values(revoked_at=now)
            )
            row = conn.execute(_KEYS.where(mine)).first()
        if row is None:
            raise IdentityError("no such key")
        return KeyInfo(*row)
