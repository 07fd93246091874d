"""Governance decisions recorded in the deployment's audit chain, synchronously."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from bastion.audit import AuditEvent, AuditSealer
from bastion.audit._chain import PendingRecord, commit_batch

__all__ = ["recorder"]


def recorder(engine: Engine, sealer: AuditSealer | None) -> Callable[[AuditEvent], None]:
    """Append one event and return once it is committed (raises if it is not)."""

    def record(event: AuditEvent) -> None:
        commit_batch(engine, [PendingRecord.from_event(event)], sealer)

    return record
