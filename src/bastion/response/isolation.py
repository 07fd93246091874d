"""Isolations: a session, conversation or API key whose requests are refused.

An isolation is reversible (:meth:`Isolations.release`), unlike a revocation: it
contains while people look, without destroying the credential. A row of
``isolations`` is active until ``released_at`` is set; the partial unique index
``uq_isolations_active`` (tenant, ref, kind, where not released) allows one active
isolation per target, which makes :meth:`Isolations.isolate` idempotent without a
lock, on SQLite and PostgreSQL alike.

The request path
    :meth:`Isolations.is_isolated` is meant to run on every request, after
    authentication and before anything else. It is one statement, an index range scan
    of ``uq_isolations_active`` (``tenant_id = ? AND ref IN (?, ?, ?) AND released_at
    IS NULL``, the kind checked on the matched rows), inside a read transaction bound
    to the tenant; on PostgreSQL that binding is one ``set_config`` more, which a
    caller already holding a tenant-bound connection avoids with
    :meth:`Isolations.check`. The answer is the incident id that isolated the target
    (for the refusal's audit record), or None. Deny by default is the caller's job on
    failure: if the check raises, the request must be refused, not let through.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Engine, and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bastion.response.store import IncidentNotFound, locked_write
from bastion.store.schema import IncidentRow, IsolationRow
from bastion.store.tenancy import tenant_begin, tenant_connect

__all__ = ["KINDS", "ActiveIsolation", "Isolation", "IsolationKind", "Isolations"]

IsolationKind = Literal["session", "conversation", "key"]
KINDS: tuple[IsolationKind, ...] = ("session", "conversation", "key")
_NONE = ""  # bound for an absent identifier: no ref is empty, so it matches nothing

_ACTIVE = IsolationRow.released_at.is_(None)
_CHECK = (
    select(IsolationRow.incident_id)
    .where(
        IsolationRow.tenant_id == bindparam("tenant_id"),
        IsolationRow.ref.in_(
            [bindparam("session_ref"), bindparam("key_ref"), bindparam("conversation_ref")]
        ),
        _ACTIVE,
        or_(
            and_(IsolationRow.kind == "session", IsolationRow.ref == bindparam("session_ref")),
            and_(IsolationRow.kind == "key", IsolationRow.ref == bindparam("key_ref")),
            and_(
                IsolationRow.kind == "conversation",
                IsolationRow.ref == bindparam("conversation_ref"),
            ),
        ),
    )
    .limit(1)
)


@dataclass(frozen=True, slots=True)
class Isolation:
    id: str
    tenant_id: str
    kind: str
    ref: str
    incident_id: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None


@dataclass(frozen=True, slots=True)
class ActiveIsolation:
    """An active isolation and the incident that made it: identifiers and times only
    (a session, key or conversation id, never a secret)."""

    kind: str
    ref: str
    since: datetime
    incident_id: str
    playbook: str
    incident_status: str
    user_id: str | None


_COLUMNS = (
    IsolationRow.id,
    IsolationRow.tenant_id,
    IsolationRow.kind,
    IsolationRow.ref,
    IsolationRow.incident_id,
    IsolationRow.created_at,
    IsolationRow.released_at,
    IsolationRow.released_by,
)


class Isolations:
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def __repr__(self) -> str:
        return "Isolations()"

    def isolate(
        self, tenant_id: str, kind: IsolationKind, ref: str, incident_id: str
    ) -> tuple[Isolation, bool]:
        """Refuse ``ref``'s further requests; the active isolation and whether it is
        new (False: it was already isolated, by this or another incident).
        ``incident_id`` must be an incident of this tenant (IncidentNotFound)."""
        if kind not in KINDS:
            raise ValueError(f"an isolation kind is one of {', '.join(KINDS)}")
        if not ref or len(ref) > 80:
            raise ValueError("an isolated ref is 1 to 80 characters")
        row_id = str(uuid.uuid4())
        mine = select(IncidentRow.id).where(
            IncidentRow.tenant_id == tenant_id, IncidentRow.id == incident_id
        )
        try:
            with locked_write(self._engine, tenant_id) as conn:
                if conn.execute(mine).first() is None:
                    raise IncidentNotFound()  # the foreign key alone would cross tenants
                conn.execute(
                    insert(IsolationRow).values(
                        id=row_id,
                        tenant_id=tenant_id,
                        kind=kind,
                        ref=ref,
                        incident_id=incident_id,
                        created_at=self._clock(),
                    )
                )
        except IntegrityError:
            found = self.active(tenant_id, kind, ref)
            if found is None:
                raise  # not the active-isolation conflict (e.g. no such incident)
            return found, False
        found = self.active(tenant_id, kind, ref)
        if found is None:  # released between the insert and this read
            raise LookupError("the isolation was released meanwhile")
        return found, True

    def release(self, tenant_id: str, kind: IsolationKind, ref: str, released_by: str) -> bool:
        """Lift the active isolation of ``ref``; False if there was none."""
        if not released_by or len(released_by) > 64:
            raise ValueError("released_by must be 1 to 64 characters")
        query = (
            update(IsolationRow)
            .where(
                IsolationRow.tenant_id == tenant_id,
                IsolationRow.kind == kind,
                IsolationRow.ref == ref,
                _ACTIVE,
            )
            .values(released_at=self._clock(), released_by=released_by)
        )
        with tenant_begin(self._engine, tenant_id) as conn:
            return bool(conn.execute(query).rowcount == 1)

    def active(self, tenant_id: str, kind: str, ref: str) -> Isolation | None:
        query = select(*_COLUMNS).where(
            IsolationRow.tenant_id == tenant_id,
            IsolationRow.ref == ref,
            IsolationRow.kind == kind,
            _ACTIVE,
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            row = conn.execute(query).first()
        return None if row is None else Isolation(*row)

    def of_incident(self, tenant_id: str, incident_id: str) -> list[Isolation]:
        """Every isolation an incident made, released or not, oldest first."""
        query = (
            select(*_COLUMNS)
            .where(IsolationRow.tenant_id == tenant_id, IsolationRow.incident_id == incident_id)
            .order_by(IsolationRow.created_at, IsolationRow.id)
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            return [Isolation(*row) for row in conn.execute(query)]

    def listed(self, tenant_id: str, limit: int = 1000) -> list[ActiveIsolation]:
        """The tenant's active isolations, newest first, at most ``limit``, each with
        the incident that made it (the rows the request path's check reads)."""
        query = (
            select(
                IsolationRow.kind,
                IsolationRow.ref,
                IsolationRow.created_at,
                IncidentRow.id,
                IncidentRow.playbook,
                IncidentRow.status,
                IncidentRow.user_id,
            )
            .join(IncidentRow, IncidentRow.id == IsolationRow.incident_id)
            .where(
                IsolationRow.tenant_id == tenant_id,
                IncidentRow.tenant_id == tenant_id,
                _ACTIVE,
            )
            .order_by(IsolationRow.created_at.desc(), IsolationRow.id)
            .limit(limit)
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            return [ActiveIsolation(*row) for row in conn.execute(query)]

    def is_isolated(
        self,
        tenant_id: str,
        session_id: str | None = None,
        key_id: str | None = None,
        conversation_id: str | None = None,
    ) -> str | None:
        """The id of the incident that isolated this request's session, key or
        conversation, or None. One indexed query (see the module docstring)."""
        if not (session_id or key_id or conversation_id):
            return None
        with tenant_connect(self._engine, tenant_id) as conn:
            return self.check(conn, tenant_id, session_id, key_id, conversation_id)

    @staticmethod
    def check(
        conn: Connection,
        tenant_id: str,
        session_id: str | None = None,
        key_id: str | None = None,
        conversation_id: str | None = None,
    ) -> str | None:
        """:meth:`is_isolated` on a connection already bound to ``tenant_id``."""
        params = {
            "tenant_id": tenant_id,
            "session_ref": session_id or _NONE,
            "key_ref": key_id or _NONE,
            "conversation_ref": conversation_id or _NONE,
        }
        found = conn.execute(_CHECK, params).scalar()
        return None if found is None else str(found)
