"""Per-user anomaly on the volume and direction of knowledge updates.

Pure functions over counts the store reads from the database (so every replica sees
the same history): whether a user's updates in the trailing window are far above
their own baseline, or lean overwhelmingly one way (a user flipping many answers to
"down", or to "up", at once). Poisoning by feedback needs volume; a person rating
what they read rarely produces either pattern.

Reason codes: ``anomaly.volume``, ``anomaly.direction``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bastion.feedback.limits import KnowledgeLimits

__all__ = ["DIRECTION", "VOLUME", "Activity", "direction_anomaly", "reasons", "volume_anomaly"]

VOLUME = "anomaly.volume"
DIRECTION = "anomaly.direction"


@dataclass(frozen=True, slots=True)
class Activity:
    """One user's updates: in the trailing window (the new one included) and in the
    baseline period before it. ``*_same`` count ratings the same way as the new one
    (all of them for documents, which have no direction)."""

    recent: int
    recent_same: int
    baseline: int
    baseline_same: int


def volume_anomaly(activity: Activity, limits: KnowledgeLimits, *, floor: int) -> bool:
    """More than ``floor`` updates in the window and more than ``volume_factor`` times
    the user's own average per window over the baseline."""
    windows = limits.baseline / limits.window
    expected = activity.baseline / windows if windows > 0 else 0.0
    return activity.recent > max(floor, limits.volume_factor * expected)


def direction_anomaly(activity: Activity, limits: KnowledgeLimits) -> bool:
    """At least ``direction_min`` ratings one way in the window, at least
    ``direction_share`` of them, when the user's baseline did not lean that way."""
    if activity.recent_same < limits.direction_min:
        return False
    if activity.recent_same < limits.direction_share * activity.recent:
        return False
    if activity.baseline < limits.direction_min:
        return True
    return activity.baseline_same < limits.direction_share * activity.baseline


def reasons(activity: Activity, limits: KnowledgeLimits, *, rated: bool) -> tuple[str, ...]:
    """The anomaly reason codes for a feedback (``rated``) or a document."""
    floor = limits.volume_floor if rated else limits.document_volume_floor
    found = []
    if volume_anomaly(activity, limits, floor=floor):
        found.append(VOLUME)
    if rated and direction_anomaly(activity, limits):
        found.append(DIRECTION)
    return tuple(found)
