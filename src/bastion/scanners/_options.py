"""Validation of a scanner's option table (server-side policy, checked at build time).

Every error is a :class:`ValueError` that names the scanner and the option, so a bad
policy fails at start-up with a message saying what to fix.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["check_keys", "choice_option", "int_option"]


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_keys(scanner: str, options: Mapping[str, Any], allowed: Collection[str]) -> None:
    """Reject option names the scanner does not know (a typo must not silently pass)."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise ValueError(f"{scanner}: unknown option {unknown[0]!r} (known options: {known})")


def int_option(
    scanner: str, options: Mapping[str, Any], key: str, default: int, *, minimum: int
) -> int:
    """An integer option ``>= minimum``; booleans are not integers here."""
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"{scanner}: option {key!r} must be an integer >= {minimum}, got {_shown(value)}"
        )
    return value


def choice_option(
    scanner: str, options: Mapping[str, Any], key: str, default: str, choices: Collection[str]
) -> str:
    """A string option that must be one of ``choices``."""
    value = options.get(key, default)
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in sorted(choices))
        raise ValueError(f"{scanner}: option {key!r} must be one of {allowed}, got {_shown(value)}")
    return value
