"""A policy as TOML text: the small subset a policy's data needs.

The standard library reads TOML but does not write it. A policy is a table of
strings, numbers, booleans, arrays and nested tables, so every top-level key is
written as ``key = value`` with nested tables inline (TOML 1.0, one line each).
Callers check the result by parsing it back: :func:`dump` raises ``ValueError`` on
anything it cannot write faithfully (a null, a non-finite number).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["dump"]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def dump(data: Mapping[str, Any]) -> str:
    """``data`` as a TOML document (keys in the given order; None values left out)."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if v is not None]
    return "\n".join(lines) + "\n"


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise ValueError("TOML keys are strings")
    return key if _BARE.fullmatch(key) else _string(key)


def _string(value: str) -> str:
    # JSON's escapes (\" \\ \n \t \u00XX ...) are TOML's; DEL must be escaped too.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a policy number must be finite")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = [f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise ValueError(f"a policy value of type {type(value).__name__} cannot be written")
