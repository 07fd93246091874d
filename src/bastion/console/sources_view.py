"""What the data-sources page shows of each source a caller may see: its owner, kind,
classification and region, and its tables with the row filters, columns and masks
that apply to *this* caller (``rules_for``, the guard's own narrowing); to the owner,
its shares. Read through :class:`DataSources` (``visible``, ``get_for``: the same
visibility the API applies); never the URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from bastion.datasources._source_config import rules_for
from bastion.datasources.sources import (
    DOCUMENTS,
    DataSources,
    SourceConfig,
    SourceError,
    SourceInfo,
)
from bastion.identity.directory import Directory
from bastion.store.schema import DataSourceRow, DataSourceShareRow
from bastion.store.tenancy import tenant_connect

__all__ = ["ShareView", "SourceView", "TableView", "owned_shares", "source_views"]


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


def owned_shares(engine: Engine, tenant_id: str, owner_id: str) -> dict[str, list[tuple[str, str]]]:
    """The shares of the sources ``owner_id`` owns (only the owner may see or change
    them), by source id: ``(kind, grantee)``."""
    query = (
        select(
            DataSourceShareRow.source_id,
            DataSourceShareRow.grantee_kind,
            DataSourceShareRow.grantee,
        )
        .join(
            DataSourceRow,
            (DataSourceRow.id == DataSourceShareRow.source_id)
            & (DataSourceRow.tenant_id == DataSourceShareRow.tenant_id),
        )
        .where(
            DataSourceShareRow.tenant_id == tenant_id,
            DataSourceRow.owner_user_id == owner_id,
        )
        .order_by(DataSourceShareRow.grantee_kind, DataSourceShareRow.grantee)
    )
    out: dict[str, list[tuple[str, str]]] = {}
    with tenant_connect(engine, tenant_id) as conn:
        for source_id, kind, grantee in conn.execute(query):
            out.setdefault(source_id, []).append((kind, grantee))
    return out


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


def _view(
    store: DataSources,
    info: SourceInfo,
    caller: tuple[str, str, str],
    emails: dict[str, str],
    shares: list[tuple[str, str]],
) -> SourceView:
    tenant_id, user_id, role = caller
    config, tables, problem = _tables(store, info, tenant_id, user_id, role)
    return SourceView(
        id=info.id,
        name=info.name,
        kind=info.kind,
        owner_email=emails.get(info.owner_user_id, "(a former user)"),
        mine=info.owner_user_id == user_id,
        classification=config.classification if config else "",
        region=config.region if config else "",
        row_cap=config.row_cap if config else 0,
        tables=tables,
        shares=tuple(
            ShareView(kind, grantee, emails.get(grantee, grantee) if kind == "user" else grantee)
            for kind, grantee in shares
        ),
        problem=problem,
        queryable=config is not None,
    )


def source_views(
    store: DataSources, engine: Engine, tenant_id: str, user_id: str, role: str
) -> list[SourceView]:
    """Every source the caller may see, as the page shows it. Blocking."""
    emails = {u.id: u.email for u in Directory(engine).users(tenant_id)}
    shares = owned_shares(engine, tenant_id, user_id)
    return [
        _view(store, info, (tenant_id, user_id, role), emails, shares.get(info.id, []))
        for info in store.visible(tenant_id, user_id, role)
    ]
