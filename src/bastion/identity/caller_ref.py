"""Who a tool or an action runs as: what the gateway knows, never what the model says."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CallerRef"]


@dataclass(frozen=True, slots=True)
class CallerRef:
    """Who the tools run as: what the gateway knows, never what the model says."""

    tenant_id: str
    user_id: str
    user_email: str
    role: str

    def __repr__(self) -> str:
        return f"CallerRef(role={self.role!r})"
