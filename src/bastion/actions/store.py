"""Proposed actions and what became of them, one row of ``agent_actions`` each.

A row is created when the model proposes a call that passed every check: ``pending``
for a confirmation (tier 2) or an approval (tier 3), ``running`` for an automatic one
(tier 1). The call itself (the canonical arguments and the summary a person reads) is
sealed under the tenant's ``app`` data key bound to the row id; the result's detail
is sealed the same way once it is known. Each sealed payload names its kind, so the
two blobs of one row cannot be swapped for one another.

Every change of state is one conditional ``UPDATE`` (``WHERE status = 'pending' AND
action_hash = ? AND expires_at > now``), so of two people deciding at once exactly one
wins, an expired row cannot be decided, and a decision made on a different hash than
the one stored changes nothing: these are what make an approval single-use and bound
to the exact call, on SQLite and PostgreSQL alike, without locks held across the
action itself.

Statuses: ``pending`` → ``running`` → ``succeeded`` | ``failed``; ``pending`` →
``rejected`` | ``expired``. Nothing here logs; no error or repr holds arguments.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, insert, select, update

from bastion.actions.registry import Tier
from bastion.crypto import DecryptionError, Keyring
from bastion.store.schema import AgentActionRow
from bastion.store.tenancy import tenant_begin, tenant_connect

__all__ = [
    "ActionIntegrityError",
    "ActionNotFound",
    "ActionRecord",
    "ActionStore",
    "SealedCall",
    "Status",
]

_TABLE = "agent_actions"
_FORMAT = 1
Status = Literal["pending", "running", "succeeded", "failed", "rejected", "expired"]
_MAX_LIST = 200


class ActionNotFound(LookupError):
    """No such action in this tenant (or not one the caller may see)."""


class ActionIntegrityError(Exception):
    """The stored call does not open or is not in a known format."""


@dataclass(frozen=True, slots=True)
class SealedCall:
    """What a person confirms: the exact arguments (canonical JSON) and the summary."""

    arguments: str
    summary: str

    def __repr__(self) -> str:
        return f"SealedCall(chars={len(self.arguments)})"


@dataclass(frozen=True, slots=True)
class ActionRecord:
    id: str
    tenant_id: str
    requester_id: str
    conversation_id: str
    tool: str
    tier: Tier
    action_hash: str
    status: str
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    finished_at: datetime | None
    result_code: str | None
    result_message: str | None
    sealed: bytes
    sealed_detail: bytes | None

    def __repr__(self) -> str:
        return f"ActionRecord(id={self.id!r}, tool={self.tool!r}, status={self.status!r})"

    def shown_status(self, now: datetime) -> str:
        """``expired`` for a pending row past its expiry, else the stored status."""
        if self.status == "pending" and self.expires_at <= now:
            return "expired"
        return self.status


_COLUMNS = (
    AgentActionRow.id,
    AgentActionRow.tenant_id,
    AgentActionRow.requester_id,
    AgentActionRow.conversation_id,
    AgentActionRow.tool,
    AgentActionRow.tier,
    AgentActionRow.action_hash,
    AgentActionRow.status,
    AgentActionRow.created_at,
    AgentActionRow.expires_at,
    AgentActionRow.decided_by,
    AgentActionRow.decided_at,
    AgentActionRow.finished_at,
    AgentActionRow.result_code,
    AgentActionRow.result_message,
    AgentActionRow.sealed,
    AgentActionRow.sealed_detail,
)


def _record(row: Any) -> ActionRecord:
    values = list(row)
    values[5] = Tier(values[5])
    return ActionRecord(*values)


class ActionStore:
    def __init__(self, engine: Engine, keyring: Keyring, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._keyring = keyring
        self._clock = clock

    def __repr__(self) -> str:
        return "ActionStore()"

    def create(
        self,
        *,
        tenant_id: str,
        requester_id: str,
        conversation_id: str,
        tool: str,
        tier: Tier,
        action_hash: str,
        call: SealedCall,
        status: Literal["pending", "running"],
        expires_at: datetime,
    ) -> ActionRecord:
        row_id = str(uuid.uuid4())
        sealed = self._seal(tenant_id, row_id, {"kind": "call", **_call_dict(call)})
        values = {
            "id": row_id,
            "tenant_id": tenant_id,
            "requester_id": requester_id,
            "conversation_id": conversation_id,
            "tool": tool,
            "tier": int(tier),
            "action_hash": action_hash,
            "status": status,
            "sealed": sealed,
            "created_at": self._clock(),
            "expires_at": expires_at,
        }
        with tenant_begin(self._engine, tenant_id) as conn:
            conn.execute(insert(AgentActionRow).values(**values))
        return self.get(tenant_id, row_id)

    def get(self, tenant_id: str, action_id: str) -> ActionRecord:
        if not _is_uuid(action_id):
            raise ActionNotFound()
        query = select(*_COLUMNS).where(
            AgentActionRow.tenant_id == tenant_id, AgentActionRow.id == action_id
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise ActionNotFound()
        return _record(row)

    def listing(
        self,
        tenant_id: str,
        *,
        requester_id: str | None = None,
        statuses: tuple[str, ...] = (),
        min_tier: Tier = Tier.AUTO,
        limit: int = 100,
    ) -> list[ActionRecord]:
        query = select(*_COLUMNS).where(
            AgentActionRow.tenant_id == tenant_id, AgentActionRow.tier >= int(min_tier)
        )
        if requester_id is not None:
            query = query.where(AgentActionRow.requester_id == requester_id)
        if statuses:
            query = query.where(AgentActionRow.status.in_(statuses))
        query = query.order_by(AgentActionRow.created_at.desc(), AgentActionRow.id)
        with tenant_connect(self._engine, tenant_id) as conn:
            rows = conn.execute(query.limit(max(1, min(limit, _MAX_LIST)))).all()
        return [_record(row) for row in rows]

    def open_call(self, record: ActionRecord) -> SealedCall:
        payload = self._open(record.tenant_id, record.id, record.sealed, "call")
        try:
            return SealedCall(str(payload["arguments"]), str(payload["summary"]))
        except KeyError:
            raise ActionIntegrityError("the stored action is not in a known format") from None

    def open_detail(self, record: ActionRecord) -> dict[str, Any]:
        if record.sealed_detail is None:
            return {}
        payload = self._open(record.tenant_id, record.id, record.sealed_detail, "detail")
        detail = payload.get("detail", {})
        return detail if isinstance(detail, dict) else {}

    def claim(
        self,
        tenant_id: str,
        action_id: str,
        *,
        action_hash: str,
        decided_by: str,
        tier: Tier,
        now: datetime,
        other_than_requester: bool,
    ) -> bool:
        """``pending`` → ``running`` for one decider, if the row is still pending, not
        expired, of ``tier`` and its stored hash is ``action_hash``. True for the one
        caller whose update changed the row."""
        query = (
            update(AgentActionRow)
            .where(
                AgentActionRow.tenant_id == tenant_id,
                AgentActionRow.id == action_id,
                AgentActionRow.status == "pending",
                AgentActionRow.tier == int(tier),
                AgentActionRow.action_hash == action_hash,
                AgentActionRow.expires_at > now,
            )
            .values(status="running", decided_by=decided_by, decided_at=now)
        )
        if other_than_requester:
            query = query.where(AgentActionRow.requester_id != decided_by)
        else:
            query = query.where(AgentActionRow.requester_id == decided_by)
        with tenant_begin(self._engine, tenant_id) as conn:
            return bool(conn.execute(query).rowcount == 1)

    def close(
        self,
        tenant_id: str,
        action_id: str,
        status: Literal["rejected", "expired"],
        *,
        decided_by: str | None,
        now: datetime,
    ) -> bool:
        """``pending`` → ``rejected`` (any time before expiry) or ``expired`` (after)."""
        expiry = (
            AgentActionRow.expires_at > now
            if status == "rejected"
            else AgentActionRow.expires_at <= now
        )
        query = (
            update(AgentActionRow)
            .where(
                AgentActionRow.tenant_id == tenant_id,
                AgentActionRow.id == action_id,
                AgentActionRow.status == "pending",
                expiry,
            )
            .values(status=status, decided_by=decided_by, decided_at=now, finished_at=now)
        )
        with tenant_begin(self._engine, tenant_id) as conn:
            return bool(conn.execute(query).rowcount == 1)

    def finish(
        self,
        tenant_id: str,
        action_id: str,
        *,
        ok: bool,
        code: str,
        message: str,
        detail: Mapping[str, Any],
        now: datetime,
    ) -> None:
        """``running`` → ``succeeded`` or ``failed``, with the result."""
        sealed = self._seal(tenant_id, action_id, {"kind": "detail", "detail": dict(detail)})
        query = (
            update(AgentActionRow)
            .where(
                AgentActionRow.tenant_id == tenant_id,
                AgentActionRow.id == action_id,
                AgentActionRow.status == "running",
            )
            .values(
                status="succeeded" if ok else "failed",
                result_code=code[:32],
                result_message=message[:200],
                sealed_detail=sealed,
                finished_at=now,
            )
        )
        with tenant_begin(self._engine, tenant_id) as conn:
            conn.execute(query)

    def _seal(self, tenant_id: str, row_id: str, payload: dict[str, Any]) -> bytes:
        raw = json.dumps(
            {"format": _FORMAT, **payload}, separators=(",", ":"), default=str
        ).encode()
        return self._keyring.encrypt(tenant_id, "app", _TABLE, row_id, raw)

    def _open(self, tenant_id: str, row_id: str, blob: bytes, kind: str) -> dict[str, Any]:
        try:
            raw = self._keyring.decrypt(tenant_id, "app", _TABLE, row_id, blob)
            payload = json.loads(raw)
        except (DecryptionError, ValueError):
            raise ActionIntegrityError("the stored action does not open") from None
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ActionIntegrityError("the stored action is not in a known format")
        if payload.get("kind") != kind:
            raise ActionIntegrityError("the stored action is not in a known format")
        return payload


def _call_dict(call: SealedCall) -> dict[str, str]:
    return {"arguments": call.arguments, "summary": call.summary}


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
