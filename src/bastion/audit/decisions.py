"""One audit record for a decision that is not a chat call: an admin change or refusal,
a sign-in, a data-source query. Recorded before the caller hears the outcome: if it
cannot be written, :class:`AuditUnavailable` (no record, no answer)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bastion.audit.record import AuditEvent
from bastion.errors import AuditUnavailable

__all__ = ["record_decision"]

log = logging.getLogger("bastion.audit")


async def record_decision(
    append: Callable[[AuditEvent], Awaitable[object]],
    *,
    ts: datetime,
    tenant_id: str,
    route: str,
    outcome: str,
    unavailable: str,
    user_id: str = "",
    key_id: str = "",
    session_id: str | None = None,
    error_code: str | None = None,
    extra: dict[str, Any] | None = None,
    data_sources: list[Any] | None = None,
) -> None:
    """Append the record with ``append`` (``AuditLog.append``); ``unavailable`` is the
    message of the :class:`AuditUnavailable` raised when it cannot be written."""
    event = AuditEvent(
        ts=ts,
        request_id=secrets.token_hex(16),
        tenant_id=tenant_id,
        user_id=user_id,
        key_id=key_id,
        model="",
        route=route,
        outcome=outcome,
        session_id=session_id,
        error_code=error_code,
        extra=extra or {},
        data_sources=data_sources or [],
    )
    try:
        await append(event)
    except Exception as exc:
        # The type only: a database error can quote the statement's parameters.
        log.error("audit append failed outcome=%s error=%s", outcome, type(exc).__name__)
        raise AuditUnavailable(unavailable) from None
