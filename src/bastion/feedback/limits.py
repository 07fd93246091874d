"""The limits a knowledge update is held to: sizes, rates and anomaly thresholds.

Server-side only: no request field changes them. The defaults are what the gateway
runs with; tests and embedders pass their own :class:`KnowledgeLimits`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from limits import parse_many

__all__ = ["KnowledgeLimits"]


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
