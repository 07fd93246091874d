"""The limits a knowledge update is held to: sizes, rates and anomaly thresholds.

Server-side only: no request field changes them. The defaults are what the gateway
runs with; a tenant policy's ``[knowledge]`` table may set any of them (checked by
:func:`parse_knowledge_policy` when the policy is resolved: a bad table makes the
policy unavailable, like every other table)::

    [knowledge]
    max_correction_chars = 2000
    feedback_rate = "10/minute;100/hour"
    document_rate = "5/minute;50/hour"
    window_minutes = 60          # the trailing window the anomaly checks count in
    baseline_days = 7            # the user's own history before it
    volume_floor = 15            # feedback per window never a volume anomaly
    volume_factor = 5.0          # beyond this times the user's own average is
    direction_min = 8            # this many ratings one way in a window...
    direction_share = 0.9        # ...making at least this share of it
    document_volume_floor = 20   # uploads per window never a volume anomaly
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from limits import parse_many

__all__ = ["KnowledgeLimits", "parse_knowledge_policy"]


@dataclass(frozen=True, slots=True)
class KnowledgeLimits:
    """Sizes, per-user rates (``limits`` strings, counted by the gateway's
    :class:`~bastion.ratelimit.RateLimiter`; beyond them a 429) and the per-user anomaly
    thresholds (beyond them the update is quarantined, see :mod:`.anomaly`)."""

    max_correction_chars: int = 4000
    feedback_rate: str = "30/minute;300/hour"
    document_rate: str = "20/minute;200/hour"
    # Anomaly: this user's updates in the trailing ``window`` against their own
    # average per window over the ``baseline`` before it.
    window: timedelta = timedelta(hours=1)
    baseline: timedelta = timedelta(days=7)
    volume_floor: int = 15  # at most this many per window is never a volume anomaly
    volume_factor: float = 5.0  # more than this times the user's own average is
    direction_min: int = 8  # this many ratings one way in a window...
    direction_share: float = 0.9  # ...making at least this share of the window's
    document_volume_floor: int = 20

    def __post_init__(self) -> None:
        if self.max_correction_chars < 1:
            raise ValueError("max_correction_chars must be at least 1")
        for name in ("feedback_rate", "document_rate"):
            try:
                parse_many(getattr(self, name))
            except ValueError:
                raise ValueError(f"{name} must be a limits string like '30/minute'") from None
        if self.window <= timedelta(0) or self.baseline <= timedelta(0):
            raise ValueError("window and baseline must be positive")
        if not 0 < self.direction_share <= 1:
            raise ValueError("direction_share must be in (0, 1]")
        if min(self.volume_floor, self.direction_min, self.document_volume_floor) < 1:
            raise ValueError("volume_floor, direction_min and document_volume_floor must be >= 1")
        if self.volume_factor < 1:
            raise ValueError("volume_factor must be at least 1")


# The [knowledge] keys: whole numbers with their bounds (inclusive).
_WHOLE = {
    "max_correction_chars": (1, 100_000),  # the feedback body's own limit
    "window_minutes": (1, 7 * 24 * 60),
    "baseline_days": (1, 90),
    "volume_floor": (1, 100_000),
    "direction_min": (1, 100_000),
    "document_volume_floor": (1, 100_000),
}
_RATES = ("feedback_rate", "document_rate")
_KEYS = frozenset({*_WHOLE, *_RATES, "volume_factor", "direction_share"})
_MAX_RATE_CHARS = 200


def parse_knowledge_policy(table: Mapping[str, Any]) -> KnowledgeLimits:
    """The ``[knowledge]`` table as :class:`KnowledgeLimits`, unset keys at their
    defaults (ValueError names the key, never a value)."""
    unknown = sorted(str(key)[:40] for key in table if key not in _KEYS)
    if unknown:
        raise ValueError(
            f"knowledge: unknown key {unknown[0]!r} (keys: {', '.join(sorted(_KEYS))})"
        )
    values: dict[str, Any] = {}
    for key, (low, high) in _WHOLE.items():
        value = table.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"knowledge: {key} must be a whole number from {low} to {high}")
        values[key] = value
    for key in _RATES:
        value = table.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_RATE_CHARS:
            raise ValueError(f"knowledge: {key} must be a limits string like '30/minute'")
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"knowledge: {key} must be a limits string like '30/minute'") from None
        values[key] = value
    if "volume_factor" in table:
        values["volume_factor"] = _real(table, "volume_factor", "a number of at least 1")
        if values["volume_factor"] < 1:
            raise ValueError("knowledge: volume_factor must be a number of at least 1")
    if "direction_share" in table:
        share = _real(table, "direction_share", "a number above 0 and at most 1")
        if not 0 < share <= 1:
            raise ValueError("knowledge: direction_share must be a number above 0 and at most 1")
        values["direction_share"] = share
    if "window_minutes" in values:
        values["window"] = timedelta(minutes=values.pop("window_minutes"))
    if "baseline_days" in values:
        values["baseline"] = timedelta(days=values.pop("baseline_days"))
    try:
        return KnowledgeLimits(**values)
    except ValueError as exc:  # the checks above catch everything; names, never values
        raise ValueError(f"knowledge: {exc}") from None


def _real(table: Mapping[str, Any], key: str, what: str) -> float:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"knowledge: {key} must be {what}")
    return float(value)
