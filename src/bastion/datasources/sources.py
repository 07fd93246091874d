"""Data sources users connect: owned by one user, shared only explicitly, URL sealed.

A source is a PostgreSQL, MySQL/MariaDB or SQLite database, or a collection of
documents (kind ``documents``, see :mod:`bastion.documents`: no URL, no guard config,
searched and never queried with SQL). A database's connection URL, which holds the
password, is sealed under the tenant's ``app`` data key bound to the row id;
it is opened only to connect and appears in no listing, repr or error. Nobody but the
owner and the users or roles it is shared with can see a source: for everyone else,
"does not exist" and "not yours" are the same :class:`SourceNotFound`, so ids cannot
be probed.

Each source carries a guard configuration (:class:`SourceConfig`, stored as JSON)::

    {"row_cap": 500,
     "tables": {"orders": {
        "columns": ["id", "region", "amount", "customer_email"],
        "masked": ["customer_email"],
        "row_filter": null,
        "roles": {"member": {"row_filter": "region = :region"}},
        "users": {"<user id>": {"columns": ["id", "amount"]}}}}}

``columns`` (``null``: all), ``masked``, ``row_filter`` apply to every caller; a
``roles`` entry for the caller's role, then a ``users`` entry for the caller, may only
narrow them: columns are intersected, masks added, row filters ANDed, and
``"deny": true`` hides the table. Row filters take ``:name`` parameters bound from the
caller's attributes (:func:`guard_policy_for`); ``:user_id`` is always the caller.

Exceptions::

    Exception
     +- SourceError          a source could not be stored or used (says what to fix)
         +- SourceNotFound   no such source, or not visible to the caller
         +- SourceForbidden  visible, but only the owner may do this
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, cast, get_args

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    and_,
    delete,
    exists,
    insert,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError

from bastion.authz import ROLES, canonical_role
from bastion.crypto import DecryptionError, Keyring
from bastion.datasources._guard_policy import Dialect, GuardPolicy
from bastion.datasources._source_config import (
    DOCUMENTS,
    KINDS,
    ConnectionUrl,
    Kind,
    Params,
    SourceConfig,
    SourceError,
    SourceForbidden,
    SourceKind,
    SourceNotFound,
    TableConfig,
    check_kind,
    check_url,
    parse_config,
    rules_for,
)
from bastion.store.schema import DataSourceRow, DataSourceShareRow, User
from bastion.store.tenancy import tenant_begin, tenant_connect

__all__ = [
    "DOCUMENTS",
    "KINDS",
    "ConnectionUrl",
    "DataSources",
    "GranteeKind",
    "ShareInfo",
    "Source",
    "SourceConfig",
    "SourceError",
    "SourceForbidden",
    "SourceInfo",
    "SourceKind",
    "SourceNotFound",
    "TableConfig",
    "guard_policy_for",
    "require_owner",
    "visible_to",
]

_TABLE = "data_sources"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
GranteeKind = Literal["user", "role"]
_GRANTEE_KINDS: frozenset[str] = frozenset(get_args(GranteeKind))


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a listing shows of a source: never its URL."""

    id: str
    name: str
    kind: SourceKind
    owner_user_id: str
    created_at: datetime
    disabled: bool


@dataclass(frozen=True, slots=True)
class ShareInfo:
    """One share of a source: to a user (``grantee`` is their id) or to a role."""

    kind: GranteeKind
    grantee: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Source:
    """A source opened for one caller, ready for :func:`guard_policy_for` and the executor."""

    id: str
    tenant_id: str
    owner_user_id: str
    name: str
    kind: Kind
    config: SourceConfig
    url: ConnectionUrl = field(repr=False)

    @property
    def dialect(self) -> Dialect:
        return self.kind


def guard_policy_for(source: Source, user_id: str, role: str, params: Params) -> GuardPolicy:
    """The query guard's policy for this caller: their tables, columns, rows and masks.

    ``params`` are the caller's attributes the row filters name (``:region``);
    ``user_id`` is added (and wins). The guard's ``LIMIT`` is ``row_cap + 1`` so the
    executor can tell the caller that rows were left out.
    """
    bound: dict[str, str | int | float] = {**params, "user_id": user_id}
    tables = rules_for(source.config, user_id, canonical_role(role))
    return GuardPolicy(source.kind, tables, params=bound, row_cap=source.config.row_cap + 1)


class DataSources:
    """The data-source store of every tenant. ``sqlite_dir``: where SQLite sources may live."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        clock: Callable[[], datetime],
        *,
        sqlite_dir: Path | None = None,
    ) -> None:
        self._engine = engine
        self._keyring = keyring
        self._clock = clock
        self._sqlite_dir = sqlite_dir

    def __repr__(self) -> str:
        return "DataSources()"

    def connect(
        self,
        tenant_id: str,
        owner_user_id: str,
        name: str,
        kind: str,
        url: str | ConnectionUrl,
        config: SourceConfig | Mapping[str, object],
    ) -> SourceInfo:
        """Store a new source owned by ``owner_user_id``; SourceError says what to fix.

        A ``documents`` collection takes an empty URL (an empty one is sealed, so every
        row has the same shape) and an empty config."""
        if not _NAME.match(name):
            raise SourceError(
                "a data source name is 1-128 letters, digits, '_', '.', ':' or '-', "
                "starting with a letter or digit"
            )
        raw = url.reveal() if isinstance(url, ConnectionUrl) else url
        checked = check_kind(kind, raw, self._sqlite_dir)
        if checked == DOCUMENTS:
            if config:
                raise SourceError("a documents collection takes no config")
            parsed = SourceConfig(tables={})
        else:
            parsed = parse_config(checked, config)
        row_id, now = str(uuid.uuid4()), self._clock()
        sealed = self._keyring.encrypt(tenant_id, "app", _TABLE, row_id, raw.encode("utf-8"))
        values = {
            "id": row_id,
            "tenant_id": tenant_id,
            "owner_user_id": owner_user_id,
            "name": name,
            "kind": checked,
            "sealed_url": sealed,
            "config": parsed.model_dump_json(),
            "created_at": now,
            "disabled": False,
        }
        try:
            with tenant_begin(self._engine, tenant_id) as conn:
                if not conn.execute(_user_exists(tenant_id, owner_user_id)).scalar():
                    raise SourceError("the owner is not a user of this tenant")
                conn.execute(insert(DataSourceRow).values(**values))
        except IntegrityError:
            raise SourceError(f"a data source named {name!r} exists already") from None
        return SourceInfo(row_id, name, checked, owner_user_id, now, False)

    def visible(self, tenant_id: str, user_id: str, role: str) -> list[SourceInfo]:
        """Sources the caller owns or that are shared with them or their role, by name."""
        query = (
            select(*_INFO_COLUMNS)
            .where(DataSourceRow.tenant_id == tenant_id, visible_to(tenant_id, user_id, role))
            .order_by(DataSourceRow.name)
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            return [_info(row) for row in conn.execute(query).all()]

    def get_for(self, tenant_id: str, source_id: str, user_id: str, role: str) -> Source:
        """The database source, opened for a caller who may query it; else SourceNotFound
        (SourceError for a documents collection, which is searched, not queried)."""
        query = select(
            DataSourceRow.owner_user_id,
            DataSourceRow.name,
            DataSourceRow.kind,
            DataSourceRow.sealed_url,
            DataSourceRow.config,
        ).where(
            DataSourceRow.tenant_id == tenant_id,
            DataSourceRow.id == source_id,
            DataSourceRow.disabled.is_(False),
            visible_to(tenant_id, user_id, role),
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise SourceNotFound()
        if row.kind == DOCUMENTS:
            raise SourceError(
                "not a database source: a documents collection is searched with "
                "POST /v1/documents/search"
            )
        try:
            raw = self._keyring.decrypt(tenant_id, "app", _TABLE, source_id, row.sealed_url)
        except DecryptionError:
            raise SourceError("the data source's credentials do not open") from None
        url = raw.decode("utf-8")
        config = SourceConfig.model_validate_json(row.config)
        kind = check_url(row.kind, url, self._sqlite_dir)  # again: symlinks may have moved
        return Source(
            source_id, tenant_id, row.owner_user_id, row.name, kind, config, ConnectionUrl(url)
        )

    def share(
        self, tenant_id: str, source_id: str, by_user_id: str, grantee_kind: str, grantee: str
    ) -> bool:
        """Share with a user (id) or a role; only the owner may. True when new."""
        _check_grantee_kind(grantee_kind)
        if grantee_kind == "role":
            grantee = canonical_role(grantee)
            if grantee not in ROLES:
                raise SourceError(f"unknown role {grantee!r:.40}; one of {sorted(ROLES)}")
        with tenant_begin(self._engine, tenant_id) as conn:
            self._owned(conn, tenant_id, source_id, by_user_id)
            if (
                grantee_kind == "user"
                and not conn.execute(_user_exists(tenant_id, grantee)).scalar()
            ):
                raise SourceError("no such user in this tenant")
            key = _share_key(tenant_id, source_id, grantee_kind, grantee)
            if conn.execute(select(DataSourceShareRow.source_id).where(*key)).first():
                return False
            conn.execute(
                insert(DataSourceShareRow).values(
                    tenant_id=tenant_id,
                    source_id=source_id,
                    grantee_kind=grantee_kind,
                    grantee=grantee,
                    created_at=self._clock(),
                )
            )
        return True

    def unshare(
        self, tenant_id: str, source_id: str, by_user_id: str, grantee_kind: str, grantee: str
    ) -> bool:
        """Withdraw a share; only the owner may. True when there was one, False when
        there was none (the caller decides whether that is an error)."""
        _check_grantee_kind(grantee_kind)
        if grantee_kind == "role":
            grantee = canonical_role(grantee)
        with tenant_begin(self._engine, tenant_id) as conn:
            self._owned(conn, tenant_id, source_id, by_user_id)
            key = _share_key(tenant_id, source_id, grantee_kind, grantee)
            return conn.execute(delete(DataSourceShareRow).where(*key)).rowcount > 0

    def shares(self, tenant_id: str, source_id: str, by_user_id: str) -> list[ShareInfo]:
        """The source's shares, by kind then grantee; only the owner may see them."""
        query = (
            select(
                DataSourceShareRow.grantee_kind,
                DataSourceShareRow.grantee,
                DataSourceShareRow.created_at,
            )
            .where(
                DataSourceShareRow.tenant_id == tenant_id,
                DataSourceShareRow.source_id == source_id,
            )
            .order_by(DataSourceShareRow.grantee_kind, DataSourceShareRow.grantee)
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            self._owned(conn, tenant_id, source_id, by_user_id)
            rows = conn.execute(query).all()
        return [ShareInfo(cast(GranteeKind, kind), grantee, at) for kind, grantee, at in rows]

    def delete(self, tenant_id: str, source_id: str, by_user_id: str) -> None:
        """Delete a source and its shares; only the owner may."""
        with tenant_begin(self._engine, tenant_id) as conn:
            self._owned(conn, tenant_id, source_id, by_user_id)
            conn.execute(
                delete(DataSourceShareRow).where(
                    DataSourceShareRow.tenant_id == tenant_id,
                    DataSourceShareRow.source_id == source_id,
                )
            )
            conn.execute(
                delete(DataSourceRow).where(
                    DataSourceRow.tenant_id == tenant_id, DataSourceRow.id == source_id
                )
            )

    @staticmethod
    def _owned(conn: Connection, tenant_id: str, source_id: str, user_id: str) -> None:
        require_owner(conn, tenant_id, source_id, user_id)


def require_owner(conn: Connection, tenant_id: str, source_id: str, user_id: str) -> None:
    """Pass for the source's owner; SourceForbidden for a user it is shared with by id;
    SourceNotFound for everyone else."""
    owner = conn.execute(
        select(DataSourceRow.owner_user_id).where(
            DataSourceRow.tenant_id == tenant_id, DataSourceRow.id == source_id
        )
    ).scalar()
    if owner == user_id:
        return
    visible = conn.execute(
        select(DataSourceRow.id).where(
            DataSourceRow.tenant_id == tenant_id,
            DataSourceRow.id == source_id,
            _shared_with(tenant_id, user_id, None),
        )
    ).first()
    if visible is None:
        raise SourceNotFound()
    raise SourceForbidden("only the data source's owner may do this")


def _info(row: Row[str, str, str, str, datetime, bool]) -> SourceInfo:
    return SourceInfo(row[0], row[1], cast(SourceKind, row[2]), row[3], row[4], row[5])


_INFO_COLUMNS = (
    DataSourceRow.id,
    DataSourceRow.name,
    DataSourceRow.kind,
    DataSourceRow.owner_user_id,
    DataSourceRow.created_at,
    DataSourceRow.disabled,
)


def _check_grantee_kind(kind: str) -> None:
    if kind not in _GRANTEE_KINDS:
        raise SourceError(f"grantee_kind must be one of {sorted(_GRANTEE_KINDS)}")


def _user_exists(tenant_id: str, user_id: str) -> Select[bool]:
    return exists().where(User.tenant_id == tenant_id, User.id == user_id).select()


def _share_key(
    tenant_id: str, source_id: str, kind: str, grantee: str
) -> tuple[ColumnElement[bool], ...]:
    return (
        DataSourceShareRow.tenant_id == tenant_id,
        DataSourceShareRow.source_id == source_id,
        DataSourceShareRow.grantee_kind == kind,
        DataSourceShareRow.grantee == grantee,
    )


def _shared_with(tenant_id: str, user_id: str, role: str | None) -> ColumnElement[bool]:
    grantees = [
        and_(DataSourceShareRow.grantee_kind == "user", DataSourceShareRow.grantee == user_id)
    ]
    if role is not None:
        grantees.append(
            and_(
                DataSourceShareRow.grantee_kind == "role",
                DataSourceShareRow.grantee == canonical_role(role),
            )
        )
    shares = select(DataSourceShareRow.source_id).where(
        DataSourceShareRow.tenant_id == tenant_id, or_(*grantees)
    )
    return DataSourceRow.id.in_(shares)


def visible_to(tenant_id: str, user_id: str, role: str) -> ColumnElement[bool]:
    """SQL: the ``data_sources`` row is the caller's own or shared with them or their role."""
    return or_(DataSourceRow.owner_user_id == user_id, _shared_with(tenant_id, user_id, role))
