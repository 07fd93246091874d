"""Per-user anomaly: volume against the user's own baseline, and direction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bastion.feedback.anomaly import Activity, direction_anomaly, reasons, volume_anomaly
from bastion.feedback.limits import KnowledgeLimits

LIMITS = KnowledgeLimits(
    window=timedelta(hours=1),
    baseline=timedelta(hours=10),
    volume_floor=5,
    volume_factor=3.0,
    direction_min=4,
    direction_share=0.9,
)


@pytest.mark.parametrize(
    ("recent", "baseline", "suspicious"),
    [
        (5, 0, False),  # at the floor: never
        (6, 0, True),  # over the floor with no history
        (6, 20, False),  # 2 per hour usual: 3x is 6, not above
        (7, 20, True),  # just above three times the user's own average
        (61, 200, True),  # above a heavy user's own 3x
        (60, 200, False),  # a heavy user's busy hour (20/h average, 3x = 60)
    ],
)
def test_volume_is_judged_against_the_users_own_baseline(
    recent: int, baseline: int, suspicious: bool
) -> None:
    """Above max(floor, factor x own average per window) is an anomaly; at it is not."""
    activity = Activity(recent, 0, baseline, 0)
    assert volume_anomaly(activity, LIMITS, floor=LIMITS.volume_floor) is suspicious


@pytest.mark.parametrize(
    ("activity", "suspicious"),
    [
        (Activity(4, 4, 0, 0), True),  # four the same way, no history
        (Activity(3, 3, 0, 0), False),  # below direction_min
        (Activity(5, 4, 0, 0), False),  # 80 % the same way: mixed enough
        (Activity(10, 9, 0, 0), True),  # 90 %: the share is inclusive
        (Activity(4, 4, 50, 48), False),  # this user always rates this way
        (Activity(4, 4, 50, 20), True),  # a shift from their usual mix
    ],
)
def test_direction_needs_many_ratings_one_way_unlike_the_baseline(
    activity: Activity, suspicious: bool
) -> None:
    """Many ratings one way is an anomaly unless the user's history leans the same way."""
    assert direction_anomaly(activity, LIMITS) is suspicious


def test_documents_have_no_direction_and_their_own_floor() -> None:
    """Uploads are judged on volume only, against the document floor."""
    limits = KnowledgeLimits(document_volume_floor=2, direction_min=1)
    assert reasons(Activity(2, 2, 0, 0), limits, rated=False) == ()
    assert reasons(Activity(3, 3, 0, 0), limits, rated=False) == ("anomaly.volume",)
    assert reasons(Activity(3, 3, 0, 0), limits, rated=True) == ("anomaly.direction",)


@pytest.mark.parametrize(
    "bad",
    [
        {"max_correction_chars": 0},
        {"feedback_rate": "lots"},
        {"window": timedelta(0)},
        {"direction_share": 0.0},
        {"volume_floor": 0},
        {"volume_factor": 0.5},
    ],
)
def test_bad_limits_are_refused_naming_the_field(bad: dict[str, object]) -> None:
    """Limits are checked when made: a bad one names itself, not a value."""
    with pytest.raises(ValueError, match=next(iter(bad)).split("_")[0]):
        KnowledgeLimits(**bad)  # type: ignore[arg-type]
