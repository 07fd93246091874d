"""A tenant's session rules, from its policy's ``[sessions]`` table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

__all__ = ["SessionPolicy", "parse_session_policy"]

_LIMITS = {
    "idle_minutes": (1, 24 * 60),
    "absolute_hours": (1, 30 * 24),
    "step_up_minutes": (1, 24 * 60),
}


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """``idle``: a session unused this long ends; ``absolute``: no session lives longer;
    ``step_up``: sensitive operations need a sign-in at most this old."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    step_up: timedelta = timedelta(minutes=15)


def parse_session_policy(table: Mapping[str, Any]) -> SessionPolicy:
    """``[sessions] idle_minutes = 30, absolute_hours = 12, step_up_minutes = 15``; a
    ValueError names the bad option."""
    unknown = sorted(set(table) - set(_LIMITS))
    if unknown:
        raise ValueError(f"sessions: unknown option {unknown[0]!r:.40} ({', '.join(_LIMITS)})")
    values: dict[str, int] = {}
    for key, (low, high) in _LIMITS.items():
        value = table.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"sessions: {key} must be a whole number from {low} to {high}")
        values[key] = value
    default = SessionPolicy()
    policy = SessionPolicy(
        idle=timedelta(minutes=values.get("idle_minutes", 0)) or default.idle,
        absolute=timedelta(hours=values.get("absolute_hours", 0)) or default.absolute,
        step_up=timedelta(minutes=values.get("step_up_minutes", 0)) or default.step_up,
    )
    if policy.idle > policy.absolute:
        raise ValueError("sessions: idle_minutes must not exceed absolute_hours")
    return policy
