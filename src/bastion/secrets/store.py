"""Sealed secrets: upstream provider keys (and, later, data-source credentials).

Each value is sealed with the owning tenant's ``app`` data key; the associated data
names the tenant, the table and the row id, so a blob copied to another row or
tenant does not open. Names, kinds and timestamps stay in clear (they are what an
operator lists); values are never returned by a listing, never logged, and appear
in no repr or error message. Deployment-wide secrets (the upstream keys the gateway
itself uses) belong to the pseudo-tenant ``DEPLOYMENT``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, update

from bastion.crypto import DecryptionError, Keyring
from bastion.store.schema import SealedSecret
from bastion.store.tenancy import tenant_begin, tenant_connect

__all__ = ["DEPLOYMENT", "KINDS", "SecretError", "SecretInfo", "SecretStore"]

DEPLOYMENT = "deployment"
KINDS = frozenset(
    {"upstream_api_key", "datasource_credential", "idp_client_secret", "break_glass_password"}
)
_TABLE = "sealed_secrets"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_MAX_VALUE = 16_384


class SecretError(Exception):
    """A secret could not be stored or read; the message never holds the value."""


@dataclass(frozen=True, slots=True)
class SecretInfo:
    name: str
    kind: str
    created_at: datetime
    updated_at: datetime


class SecretStore:
    def __init__(self, engine: Engine, keyring: Keyring, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._keyring = keyring
        self._clock = clock

    def __repr__(self) -> str:
        return "SecretStore()"

    def put(self, name: str, value: str, *, kind: str, tenant_id: str = DEPLOYMENT) -> bool:
        """Store or replace ``name``; True when it is new."""
        if not _NAME.match(name):
            raise SecretError(
                "a secret name is 1-128 letters, digits, '_', '.', ':' or '-', "
                "starting with a letter or digit"
            )
        if kind not in KINDS:
            raise SecretError(f"unknown secret kind {kind!r}; one of {sorted(KINDS)}")
        raw = value.encode("utf-8")
        if not raw.strip() or len(raw) > _MAX_VALUE:
            raise SecretError(f"a secret value must be 1 to {_MAX_VALUE} bytes, not blank")
        now = self._clock()
        with tenant_begin(self._engine, tenant_id) as conn:
            found = conn.execute(
                select(SealedSecret.id).where(
                    SealedSecret.tenant_id == tenant_id, SealedSecret.name == name
                )
            ).first()
            row_id = found[0] if found else str(uuid.uuid4())
            sealed = self._keyring.encrypt(tenant_id, "app", _TABLE, row_id, raw)
            if found:
                conn.execute(
                    update(SealedSecret)
                    .where(SealedSecret.id == row_id)
                    .values(sealed=sealed, kind=kind, updated_at=now)
                )
            else:
                conn.execute(
                    insert(SealedSecret).values(
                        id=row_id,
                        tenant_id=tenant_id,
                        name=name,
                        kind=kind,
                        sealed=sealed,
                        created_at=now,
                        updated_at=now,
                    )
                )
        return found is None

    def get(self, name: str, *, tenant_id: str = DEPLOYMENT) -> str | None:
        """The value, None when there is no such secret; SecretError when it will not open."""
        with tenant_connect(self._engine, tenant_id) as conn:
            row = conn.execute(
                select(SealedSecret.id, SealedSecret.sealed).where(
                    SealedSecret.tenant_id == tenant_id, SealedSecret.name == name
                )
            ).first()
        if row is None:
            return None
        try:
            raw = self._keyring.decrypt(tenant_id, "app", _TABLE, row[0], row[1])
        except DecryptionError:
            raise SecretError(
                f"secret {name!r} does not open (damaged, moved or wrong key)"
            ) from None
        return raw.decode("utf-8")

    def list(self, *, tenant_id: str = DEPLOYMENT) -> list[SecretInfo]:
        query = (
            select(
                SealedSecret.name,
                SealedSecret.kind,
                SealedSecret.created_at,
                SealedSecret.updated_at,
            )
            .where(SealedSecret.tenant_id == tenant_id)
            .order_by(SealedSecret.name)
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            return [SecretInfo(*row) for row in conn.execute(query).all()]

    def delete(self, name: str, *, tenant_id: str = DEPLOYMENT) -> bool:
        with tenant_begin(self._engine, tenant_id) as conn:
            result = conn.execute(
                delete(SealedSecret).where(
                    SealedSecret.tenant_id == tenant_id, SealedSecret.name == name
                )
            )
        return result.rowcount > 0
