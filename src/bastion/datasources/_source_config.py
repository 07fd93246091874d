"""Data source configuration: the guard config's schema and its checks, and what a
connection URL may be. See :mod:`bastion.datasources.sources` for the format.

Writes (approved ``update_record`` actions): a table may name ``writable`` columns and
the ``key`` column that picks a row. Deny by default: a table without both is not
writable. Both are plain identifiers, so they quote the same way on every server; the
key may not be writable itself, and with a column list both must be visible and not
masked. Per-role and per-user entries may narrow ``writable`` (intersected, like
``columns``), never widen it, and cannot change the key."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bastion.authz import ROLES, canonical_role
from bastion.datasources._guard_policy import GuardPolicy, TableRule

__all__ = [
    "COLUMN",
    "DB_ROLE",
    "DOCUMENTS",
    "KINDS",
    "ConnectionUrl",
    "Kind",
    "Params",
    "SourceConfig",
    "SourceError",
    "SourceForbidden",
    "SourceKind",
    "SourceNotFound",
    "TableConfig",
    "check_kind",
    "check_url",
    "parse_config",
    "rules_for",
    "sqlite_path",
]

Kind = Literal["postgres", "mysql", "sqlite"]  # a database: the executor's dialects
# A source is a database or a collection of documents (bastion.documents), which has
# no URL and no guard config: it is searched, never queried with SQL.
SourceKind = Literal["postgres", "mysql", "sqlite", "documents"]
DOCUMENTS: Literal["documents"] = "documents"
# The one SQLAlchemy driver each kind connects with.
KINDS: Mapping[str, str] = {
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "sqlite": "sqlite",
}
# Query options a URL may carry; others (pymysql's read_default_file, local_infile,
# libpq's service files) would let a user steer the gateway's own files or sockets.
_URL_OPTIONS: Mapping[str, frozenset[str]] = {
    "postgres": frozenset({"sslmode", "connect_timeout", "application_name"}),
    "mysql": frozenset({"charset", "connect_timeout"}),
    "sqlite": frozenset(),
}
Params = Mapping[str, str | int | float]
# A database role name the executor may switch to (SourceConfig.db_role): a plain
# identifier, so it quotes the same way on every server and never needs escaping.
DB_ROLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# A writable or key column (TableConfig.writable, .key): a plain identifier as well.
COLUMN = DB_ROLE
_PLAIN = (
    "must be a plain identifier: a letter or '_', then letters, digits or '_' "
    "(at most 63 characters)"
)


class SourceError(Exception):
    """A data source could not be stored or used; never holds its URL."""


class SourceNotFound(SourceError):
    """No such data source, or the caller may not see it (the two are one answer)."""

    def __init__(self) -> None:
        super().__init__("no such data source")


class SourceForbidden(SourceError):
    """Only the source's owner may do this."""


class ConnectionUrl:
    """A connection URL with its password: shown as ``***`` everywhere."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "ConnectionUrl('***')"

    __str__ = __repr__


class _Narrowing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: tuple[str, ...] | None = None
    masked: tuple[str, ...] = ()
    row_filter: str | None = None
    deny: bool = False
    writable: tuple[str, ...] | None = None  # None: as the base (none on the base)

    @field_validator("writable")
    @classmethod
    def _plain_columns(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            for column in value:
                if not COLUMN.fullmatch(column):
                    raise ValueError(f"each column {_PLAIN}")
            if len({c.lower() for c in value}) != len(value):
                raise ValueError("lists a column twice")
        return value


class TableConfig(_Narrowing):
    """One readable table: the base rule and its per-role and per-user narrowings.

    ``key``: the column whose value picks the one row a write changes (base only)."""

    roles: dict[str, _Narrowing] = Field(default_factory=dict)
    users: dict[str, _Narrowing] = Field(default_factory=dict)
    key: str | None = None

    @field_validator("key")
    @classmethod
    def _plain_key(cls, value: str | None) -> str | None:
        if value is not None and not COLUMN.fullmatch(value):
            raise ValueError(_PLAIN)
        return value


class SourceConfig(BaseModel):
    """The guard configuration of one source (see the module docstring).

    ``db_role``: a database role every statement on the source runs under (PostgreSQL
    ``SET LOCAL ROLE``, MariaDB ``SET ROLE``; see :mod:`bastion.datasources.executor`).
    A plain identifier; PostgreSQL and MySQL/MariaDB sources only.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    row_cap: int = Field(default=1000, ge=1, le=100_000)
    tables: dict[str, TableConfig]
    db_role: str | None = None
    # Governance (issue 10): the highest label of the data the source holds, and where
    # it is kept; shown in the threat model's inputs and residency map.
    classification: Literal["public", "internal", "confidential", "restricted"] = "confidential"
    region: str = Field(default="", max_length=64)

    @field_validator("db_role")
    @classmethod
    def _plain_role(cls, value: str | None) -> str | None:
        if value is not None and not DB_ROLE.fullmatch(value):
            raise ValueError(_PLAIN)
        return value


def rules_for(config: SourceConfig, user_id: str, role: str) -> dict[str, TableRule]:
    tables: dict[str, TableRule] = {}
    for name, table in config.tables.items():
        rule: TableRule | None = _rule(table, None)
        for narrowing in (table.roles.get(role), table.users.get(user_id)):
            if narrowing is not None and rule is not None:
                rule = _rule(narrowing, rule)
        if rule is not None:
            tables[name] = rule
    return tables


def _rule(narrowing: _Narrowing, base: TableRule | None) -> TableRule | None:
    if narrowing.deny:
        return None
    columns = None if narrowing.columns is None else frozenset(narrowing.columns)
    masked = frozenset(narrowing.masked)
    row_filter = narrowing.row_filter
    writable = None if narrowing.writable is None else frozenset(narrowing.writable)
    key = narrowing.key if isinstance(narrowing, TableConfig) else None
    if base is not None:
        key = base.key  # a narrowing cannot name another key
        writable = base.writable if writable is None else writable & base.writable
        if base.columns is not None:
            columns = base.columns if columns is None else columns & base.columns
        masked |= base.masked
        if base.row_filter is not None:
            row_filter = (
                base.row_filter if row_filter is None else f"({base.row_filter}) AND ({row_filter})"
            )
        if columns is not None:  # a mask on a column narrowed away is moot
            masked &= columns
    return TableRule(
        columns=columns,
        row_filter=row_filter,
        masked=masked,
        writable=writable or frozenset(),
        key=key,
    )


class _AnyParams(Mapping[str, str]):
    """Every parameter name bound to a placeholder value: checks a config's filters."""

    def __getitem__(self, key: str) -> str:
        return "x"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)


def parse_config(kind: Kind, config: SourceConfig | Mapping[str, object]) -> SourceConfig:
    """Validate a guard configuration, for every role and user it names."""
    try:
        parsed = config if isinstance(config, SourceConfig) else SourceConfig.model_validate(config)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise SourceError(f"invalid data source config: {problems}") from None
    if parsed.db_role is not None and kind not in ("postgres", "mysql"):
        raise SourceError(
            "db_role is for PostgreSQL and MySQL/MariaDB sources only: "
            "SQLite and documents sources have no database roles"
        )
    users: set[str] = set()
    for name, table in parsed.tables.items():
        unknown = sorted(set(map(canonical_role, table.roles)) - set(ROLES))
        if unknown:
            raise SourceError(f"table {name!r}: unknown role {unknown[0]!r}")
        users |= set(table.users)
        _check_writes(name, table)
        # Each filter alone, so that ANDing them in _rule cannot change their meaning.
        for part in (table, *table.roles.values(), *table.users.values()):
            if part.row_filter is not None:
                _check(kind, {name: TableRule(row_filter=part.row_filter)})
    roles = {canonical_role(r) for t in parsed.tables.values() for r in t.roles}
    for role in sorted(roles | {""}):
        for user in sorted(users | {""}):
            _check(kind, rules_for(parsed, user, role))
    return parsed


def _check_writes(name: str, table: TableConfig) -> None:
    """The base table's ``writable`` and ``key`` agree with each other and its columns."""
    writable = {c.lower() for c in table.writable or ()}
    if not writable:
        return
    if table.key is None:
        raise SourceError(f"table {name!r}: writable columns need a key column")
    if table.key.lower() in writable:
        raise SourceError(f"table {name!r}: the key column may not be writable")
    masked = {c.lower() for c in table.masked}
    if (writable | {table.key.lower()}) & masked:
        raise SourceError(f"table {name!r}: writable and key columns may not be masked")
    if table.columns is not None:
        visible = {c.lower() for c in table.columns}
        if not (writable | {table.key.lower()}) <= visible:
            raise SourceError(f"table {name!r}: writable and key columns must be among columns")


def _check(kind: Kind, tables: Mapping[str, TableRule]) -> None:
    try:
        GuardPolicy(dialect=kind, tables=tables, params=_AnyParams())
    except ValueError as error:
        raise SourceError(f"invalid data source config: {error}") from None


def check_kind(kind: str, url: str, sqlite_dir: Path | None) -> SourceKind:
    """``kind`` if ``url`` suits it (a documents collection takes none); else SourceError."""
    if kind == DOCUMENTS:
        if url:
            raise SourceError("a documents collection takes no connection URL")
        return DOCUMENTS
    return check_url(kind, url, sqlite_dir)


def check_url(kind: str, url: str, sqlite_dir: Path | None) -> Kind:
    """``kind`` if ``url`` is an acceptable URL for it; SourceError (without the URL) if not."""
    if kind not in KINDS:
        known = sorted([*KINDS, DOCUMENTS])
        raise SourceError(f"unknown data source kind {kind!r:.40}; one of {known}")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise SourceError("the connection URL does not parse") from None
    if parsed.drivername != KINDS[kind]:
        raise SourceError(f"a {kind} source needs a {KINDS[kind]}:// URL")
    extra = sorted(set(parsed.query) - _URL_OPTIONS[kind])
    if extra:
        raise SourceError(f"connection URL option {extra[0]!r} is not allowed")
    if kind == "sqlite":
        sqlite_path(parsed.database or "", sqlite_dir)
    elif not parsed.host or not parsed.database:
        raise SourceError("the connection URL needs a host and a database name")
    return "sqlite" if kind == "sqlite" else "postgres" if kind == "postgres" else "mysql"


def sqlite_path(database: str, sqlite_dir: Path | None) -> Path:
    """The resolved path of a SQLite source, refused outside ``sqlite_dir``."""
    if sqlite_dir is None:
        raise SourceError("SQLite sources are not enabled (no sqlite_dir configured)")
    path = Path(database)
    if not database or database.startswith("file:") or not path.is_absolute():
        raise SourceError("a SQLite source needs an absolute file path")
    resolved, root = path.resolve(), sqlite_dir.resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise SourceError("a SQLite source must be a file inside the allowed directory")
    return resolved
