"""Admin decisions in the audit log: every change made and every request refused.

One record per decision, in the tenant's own chain, with the route, the outcome
(``admin_change`` or ``admin_denied``), the error code of a refusal, and in ``extra``
the action, the id it touched and the fields it changed (ids and role names only:
never a key secret, never a cookie).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bastion.audit import AuditLog
from bastion.audit.decisions import record_decision
from bastion.gateway.callers import Caller

__all__ = ["AdminAudit"]


class AdminAudit:
    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    def __repr__(self) -> str:
        return "AdminAudit()"

    async def record(
        self,
        caller: Caller,
        route: str,
        now: datetime,
        *,
        action: str,
        target: str = "",
        changes: dict[str, Any] | None = None,
        error_code: str | None = None,
    ) -> None:
        p = caller.principal
        await record_decision(
            self._audit.append,
            ts=now,
            tenant_id=p.tenant_id,
            route=route,
            outcome="admin_denied" if error_code else "admin_change",
            unavailable="The change was made but could not be recorded.",
            user_id=p.user_id,
            key_id=p.key_id,
            session_id=p.session_id,
            error_code=error_code,
            extra={"action": action, "target": target, "changes": changes or {}},
        )
