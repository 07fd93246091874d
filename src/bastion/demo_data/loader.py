"""Load the shipped demo databases into any SQLAlchemy engine.

Each ``<name>.json.gz`` beside this module holds one database in a dialect-neutral
form (written by ``training/extract_defog.py`` from defog's PostgreSQL dumps): tables
with portable column types, their rows, and a few of sql-eval's gold questions per
dialect. Values the dump computed from the load date (``CURRENT_DATE - INTERVAL '8
days'``) are stored as relative dates and evaluated against ``now`` here, so defog's
questions about "the past 30 days" keep returning rows.

Names are kept as the dump writes them (``sbCustomer``). On PostgreSQL they are
created lower-case, as PostgreSQL folds the dump's unquoted names, so the same
unquoted SQL works on every engine (MariaDB table names are case-sensitive).
"""

from __future__ import annotations

import calendar
import gzip
import json
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    inspect,
)
from sqlalchemy.types import TypeEngine

__all__ = [
    "DemoDataError",
    "available",
    "describe",
    "load",
    "policies",
    "questions",
    "row_counts",
]

_SUFFIX = ".json.gz"
_DIALECTS = ("postgresql", "mysql", "sqlite")


class DemoDataError(Exception):
    """A demo database is unknown, or cannot be loaded where it was asked to go."""


def available() -> tuple[str, ...]:
    """The names of the shipped demo databases, sorted."""
    files = resources.files(__package__ or "bastion.demo_data").iterdir()
    return tuple(sorted(f.name[: -len(_SUFFIX)] for f in files if f.name.endswith(_SUFFIX)))


def describe(name: str) -> dict[str, dict[str, str]]:
    """Table -> column -> defog's natural-language description ('' where it has none)."""
    return {
        t["name"]: {c["name"]: c["description"] for c in t["columns"]}
        for t in _data(name)["tables"]
    }


def row_counts(name: str) -> dict[str, int]:
    """Table -> the number of rows in defog's dump, which :func:`load` inserts."""
    return {t["name"]: int(t["row_count"]) for t in _data(name)["tables"]}


def questions(name: str, dialect: str) -> list[dict[str, str]]:
    """A few of sql-eval's questions with gold SQL for ``dialect`` (postgresql, mysql,
    sqlite), as ``{"question": ..., "query": ...}``."""
    if dialect not in _DIALECTS:
        raise DemoDataError(f"unknown dialect {dialect!r}; one of {list(_DIALECTS)}")
    return [dict(q) for q in _data(name)["questions"][dialect]]


def policies(name: str) -> dict[str, Any]:
    """Suggested demo users and guard configuration for ``name``: ``{"about", "users":
    {user: {"role", "params"}}, "config": <datasources guard config>}``."""
    _data(name)  # the same unknown-name error as everywhere
    text = resources.files(__package__ or "bastion.demo_data").joinpath("policies.json")
    return cast(dict[str, Any], json.loads(text.read_text(encoding="utf-8"))[name])


def load(
    engine: Engine, name: str, *, schema: str | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Create demo database ``name``'s tables in ``engine`` and insert its rows.

    ``schema``: where to create them (a PostgreSQL schema or a MySQL database; None:
    the connection's default). ``now``: the load date relative dates are computed from
    (default: the local time now). Refuses, before changing anything, if any of the
    tables already exists. Returns table -> rows inserted.
    """
    data = _data(name)
    fold = engine.dialect.name == "postgresql"
    ident: Callable[[str], str] = str.lower if fold else str
    metadata = MetaData(schema=schema)
    tables = [_table(metadata, t, ident) for t in data["tables"]]
    existing = {n.lower() for n in inspect(engine).get_table_names(schema=schema)}
    clash = sorted(t.name for t in tables if t.name.lower() in existing)
    if clash:
        where = f" in schema {schema!r}" if schema else ""
        raise DemoDataError(
            f"cannot load demo database {name!r}{where}: table(s) {', '.join(clash)} "
            "already exist; load it into an empty database or another schema"
        )
    at = (now or datetime.now()).replace(microsecond=0)
    metadata.create_all(engine)
    counts: dict[str, int] = {}
    try:
        with engine.begin() as conn:
            for spec, table in zip(data["tables"], tables, strict=True):
                rows = [_row(spec["columns"], table, raw, at) for raw in spec["rows"]]
                if rows:
                    conn.execute(table.insert(), rows)
                counts[spec["name"]] = len(rows)
    except Exception:
        metadata.drop_all(engine)  # MySQL DDL does not roll back; leave nothing behind
        raise
    return counts


@cache
def _raw(name: str) -> bytes:
    if name not in available():
        raise DemoDataError(f"unknown demo database {name!r}; one of {list(available())}")
    package = resources.files(__package__ or "bastion.demo_data")
    return gzip.decompress(package.joinpath(name + _SUFFIX).read_bytes())


def _data(name: str) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(_raw(name)))


def _type(spec: str) -> TypeEngine[Any]:
    simple: Mapping[str, TypeEngine[Any]] = {
        "text": Text(),
        "integer": Integer(),
        "bigint": BigInteger(),
        "date": Date(),
        "timestamp": DateTime(),
        "boolean": Boolean(),
    }
    if spec in simple:
        return simple[spec]
    kind, _, params = spec.partition("(")
    numbers = [int(p) for p in params.rstrip(")").split(",")] if params else []
    if kind == "varchar" and len(numbers) == 1:
        return String(numbers[0])
    if kind == "numeric" and len(numbers) == 2:
        return Numeric(numbers[0], numbers[1])
    raise DemoDataError(f"unsupported column type {spec!r} in the demo data")


def _table(metadata: MetaData, spec: Mapping[str, Any], ident: Callable[[str], str]) -> Table:
    columns = []
    for col in spec["columns"]:
        args: list[Any] = []
        if col["references"]:
            target_table, target_column = col["references"].split(".")
            prefix = f"{metadata.schema}." if metadata.schema else ""
            args.append(ForeignKey(f"{prefix}{ident(target_table)}.{ident(target_column)}"))
        columns.append(
            Column(
                ident(col["name"]),
                _type(col["type"]),
                *args,
                primary_key=col["primary_key"],
                nullable=col["nullable"],
                unique=col["unique"] or None,
                autoincrement=False,
            )
        )
    return Table(ident(spec["name"]), metadata, *columns)


def _row(
    columns: list[Mapping[str, Any]], table: Table, raw: list[Any], now: datetime
) -> dict[str, Any]:
    return {
        column.name: _value(spec["type"], value, now)
        for spec, column, value in zip(columns, table.columns, raw, strict=True)
    }


def _value(kind: str, value: Any, now: datetime) -> Any:
    if isinstance(value, dict):
        value = _relative(value, now)
        if not isinstance(value, datetime):
            return value  # epoch milliseconds or a formatted string
    if value is None:
        return None
    if kind in ("integer", "bigint"):
        return int(value)
    if kind.startswith("numeric"):
        return Decimal(value)
    if kind == "boolean":
        return bool(value)
    if kind == "date":
        return value.date() if isinstance(value, datetime) else date.fromisoformat(value)
    if kind == "timestamp":
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return str(value)


def _relative(spec: Mapping[str, Any], now: datetime) -> datetime | int | str:
    """Evaluate a relative date as PostgreSQL would at ``now`` (see the extractor)."""
    at = now if spec["now"] == "timestamp" else datetime.combine(now.date(), datetime.min.time())
    if spec["trunc"] == "month":
        at = datetime(at.year, at.month, 1)
    elif spec["trunc"] == "week":  # PostgreSQL weeks start on Monday
        at = datetime.combine(at.date() - timedelta(days=at.weekday()), datetime.min.time())
    for unit, n in spec["shift"]:
        at = _add_months(at, n) if unit == "month" else at + timedelta(days=n)
    if spec["as"] == "epoch_ms":
        return int(at.timestamp()) * 1000
    if spec["as"] is not None:
        return at.strftime(spec["as"])
    return at


def _add_months(at: datetime, months: int) -> datetime:
    """Month arithmetic as PostgreSQL does it: the day is clamped to the month's end."""
    index = at.year * 12 + at.month - 1 + months
    year, month = divmod(index, 12)
    day = min(at.day, calendar.monthrange(year, month + 1)[1])
    return at.replace(year=year, month=month + 1, day=day)
