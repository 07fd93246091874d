"""What the data-sources page shows of each source a caller may see: its owner, kind,
classification and region, and its tables with the row filters, columns and masks
that apply to *this* caller (``rules_for``, the guard's own narrowing); to the owner,
its shares. Read through :class:`DataSources` (``visible``, ``get_for``, ``shares``:
the same visibility and owner rule the API applies); never the URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bastion.datasources._source_config import rules_for
from bastion.datasources.sources import (
    DOCUMENTS,
    DataSources,
    SourceConfig,
    SourceError,
    SourceInfo,
)
from bastion.identity.directory import Directory

__all__ = ["ShareView", "SourceView", "TableView", "source_views"]


@dataclass(frozen=True, slots=True)
class TableView:
    name: str
    columns: tuple[str, ...] | None  # None: every column
    masked: tuple[str, ...]
    row_filter: str | None


@dataclass(frozen=True, slots=True)
class ShareView:
    kind: str  # user or role
    grantee: str  # a user id or a role name
    label: str  # the user's email, or the role


@dataclass(frozen=True, slots=True)
class SourceView:
    id: str
    name: str
    kind: str
    owner_email: str
    mine: bool
    classification: str = ""
    region: str = ""
    row_cap: int = 0
    tables: tuple[TableView, ...] = ()
    shares: tuple[ShareView, ...] = ()
    problem: str = ""  # why it cannot be opened now (a moved file, a key that fails)
    queryable: bool = False


def _tables(
    store: DataSources, info: SourceInfo, tenant_id: str, user_id: str, role: str
) -> tuple[SourceConfig | None, tuple[TableView, ...], str]:
    """The source's config and the caller's tables, or why it cannot be opened."""
    if info.kind == DOCUMENTS:
        return None, (), ""
    if info.disabled:
        return None, (), "disabled"
    try:
        config = store.get_for(tenant_id, info.id, user_id, role).config
    except SourceError as exc:
        return None, (), str(exc)[:200]
    tables = tuple(
        TableView(
            name,
            None if rule.columns is None else tuple(sorted(rule.columns)),
            tuple(sorted(rule.masked)),
            rule.row_filter,
        )
        for name, rule in sorted(rules_for(config, user_id, role).items())
    )
    return config, tables, ""


def _shares(
    store: DataSources, info: SourceInfo, tenant_id: str, owner_id: str, emails: dict[str, str]
) -> tuple[ShareView, ...]:
    """The owner's view of a source's shares: a user by email (their id once they are
    gone), a role by name; none when the source went away since it was listed."""
    try:
        shares = store.shares(tenant_id, info.id, owner_id)
    except SourceError:
        return ()
    return tuple(
        ShareView(
            s.kind, s.grantee, emails.get(s.grantee, s.grantee) if s.kind == "user" else s.grantee
        )
        for s in shares
    )


def _view(
    store: DataSources,
    info: SourceInfo,
    caller: tuple[str, str, str],
    emails: dict[str, str],
) -> SourceView:
    tenant_id, user_id, role = caller
    config, tables, problem = _tables(store, info, tenant_id, user_id, role)
    mine = info.owner_user_id == user_id
    return SourceView(
        id=info.id,
        name=info.name,
        kind=info.kind,
        owner_email=emails.get(info.owner_user_id, "(a former user)"),
        mine=mine,
        classification=config.classification if config else "",
        region=config.region if config else "",
        row_cap=config.row_cap if config else 0,
        tables=tables,
        shares=_shares(store, info, tenant_id, user_id, emails) if mine else (),
        problem=problem,
        queryable=config is not None,
    )


def source_views(
    store: DataSources, engine: Engine, tenant_id: str, user_id: str, role: str
) -> list[SourceView]:
    """Every source the caller may see, as the page shows it. Blocking."""
    emails = {u.id: u.email for u in Directory(engine).users(tenant_id)}
    return [
        _view(store, info, (tenant_id, user_id, role), emails)
        for info in store.visible(tenant_id, user_id, role)
    ]
