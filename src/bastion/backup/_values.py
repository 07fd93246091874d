"""Column values as JSON, the same on every backend.

A column's *kind* comes from its SQLAlchemy type, never from the dialect: ``bytes``
are base64 text, ``datetime`` values ISO-8601 text (aware ones in UTC), non-finite
floats and decimals are text, everything else is JSON as is. ``None`` is ``null``
for every kind. A column whose type has no kind here stops a backup before it
starts (:class:`UnsupportedColumn`), so a new column type cannot be dropped silently.
"""

from __future__ import annotations

import base64
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Column, Table
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["Kind", "UnsupportedColumn", "column_kinds", "decode", "encode"]

Kind = Literal["str", "int", "bool", "float", "decimal", "bytes", "datetime", "date", "json"]

_KINDS: dict[type, Kind] = {
    str: "str",
    int: "int",
    bool: "bool",
    float: "float",
    Decimal: "decimal",
    bytes: "bytes",
    datetime: "datetime",
    date: "date",
    dict: "json",
    list: "json",
}


class UnsupportedColumn(TypeError):
    """A column type backups cannot carry yet; the message names the column."""


def column_kinds(table: Table) -> dict[str, Kind]:
    """Column name -> kind, in the table's column order."""
    return {str(column.name): _kind(table, column) for column in table.columns}


def _kind(table: Table, column: Column[Any]) -> Kind:
    sql_type: TypeEngine[Any] = column.type
    while isinstance(sql_type, TypeDecorator):  # e.g. UtcDateTime: judge by what it stores
        sql_type = sql_type.impl_instance
    try:
        python_type = sql_type.python_type
    except NotImplementedError:
        python_type = None
    kind = _KINDS.get(python_type) if python_type is not None else None
    if kind is None:
        raise UnsupportedColumn(
            f"column {table.name}.{column.name} has type {column.type!r}, which backups "
            "cannot carry yet (add it to bastion.backup._values)"
        )
    return kind


def encode(kind: Kind, value: Any) -> Any:
    """A JSON-ready form of ``value``."""
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64encode(value).decode("ascii")
    if kind == "datetime":
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat(timespec="microseconds")
    if kind == "date":
        return value.isoformat()
    if kind == "decimal":
        return str(value)
    if kind == "float" and not math.isfinite(value):
        return str(value)
    return value


def decode(kind: Kind, value: Any) -> Any:
    """The Python value for ``value``; ValueError or TypeError if it does not fit."""
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64decode(_text(value), validate=True)
    if kind == "datetime":
        return datetime.fromisoformat(_text(value))
    if kind == "date":
        return date.fromisoformat(_text(value))
    if kind == "decimal":
        return Decimal(_text(value))
    if kind == "float":
        return float(value)
    expected: dict[Kind, type | tuple[type, ...]] = {
        "str": str,
        "bool": bool,
        "json": (dict, list, str, int, float, bool),
    }
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("expected an integer")
        return value
    if not isinstance(value, expected[kind]):
        raise TypeError(f"expected a value of kind {kind}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value
