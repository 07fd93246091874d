"""What the built-in data actions share: opening a source as the caller, and showing
values to the person who confirms or approves.

A source is opened exactly as the assistant's tools open one
(:meth:`bastion.assistant.tools.ToolBox._open`): by id or name among the sources the
caller owns or that are shared with them or their role, so an action can reach no
source its requester could not query themselves. Anything else (gone, disabled, not
theirs, a documents collection) is one answer: no source.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.actions.catalog import ActionServices
from bastion.authz import canonical_role
from bastion.datasources.sources import Source, SourceError
from bastion.identity.caller_ref import CallerRef

__all__ = ["DATABASE_KINDS", "caller_params", "caller_role", "open_source", "shown"]

DATABASE_KINDS = frozenset({"postgres", "mysql", "sqlite"})


def open_source(services: ActionServices, caller: CallerRef, ref: str) -> Source | None:
    """The database source ``ref`` (id or name) if the caller may query it, else None."""
    sources = services.sources
    if sources is None:
        return None
    try:
        for info in sources.visible(caller.tenant_id, caller.user_id, caller.role):
            if ref in (info.id, info.name):
                source = sources.get_for(caller.tenant_id, info.id, caller.user_id, caller.role)
                return source if source.kind in DATABASE_KINDS else None
    except SourceError:
        return None
    return None


def caller_params(services: ActionServices, caller: CallerRef) -> dict[str, str | int | float]:
    """What row filters bind for this caller, as the read path binds it
    (:func:`bastion.datasources.sources.guard_policy_for`): ``user_id`` always wins."""
    params: Mapping[str, str] = services.params_for(caller)
    return {**params, "user_id": caller.user_id}


def caller_role(caller: CallerRef) -> str:
    return canonical_role(caller.role)


def shown(value: str | int | float | bool | None) -> str:
    """A value as a reviewer reads it: strings quoted with every control character
    escaped (a value cannot fake the end of the summary), NULL, true/false, numbers."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)
