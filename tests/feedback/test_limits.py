"""The ``[knowledge]`` policy table: every key sets its limit, and a bad table is
refused with a message naming the key, never the value."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bastion.feedback import KnowledgeLimits, parse_knowledge_policy
from bastion.gateway.policies import resolve_policy
from bastion.policy import Policy, parse_policy
from bastion.scanners import default_registry

FULL = {
    "max_correction_chars": 2000,
    "feedback_rate": "10/minute;100/hour",
    "document_rate": "5/minute",
    "window_minutes": 30,
    "baseline_days": 14,
    "volume_floor": 5,
    "volume_factor": 3,
    "direction_min": 4,
    "direction_share": 0.75,
    "document_volume_floor": 6,
}


def test_an_empty_table_is_the_defaults() -> None:
    """No [knowledge] table: the code defaults."""
    assert parse_knowledge_policy({}) == KnowledgeLimits()


def test_every_key_sets_its_limit() -> None:
    """Each key lands on its field; minutes and days become durations."""
    assert parse_knowledge_policy(FULL) == KnowledgeLimits(
        max_correction_chars=2000,
        feedback_rate="10/minute;100/hour",
        document_rate="5/minute",
        window=timedelta(minutes=30),
        baseline=timedelta(days=14),
        volume_floor=5,
        volume_factor=3.0,
        direction_min=4,
        direction_share=0.75,
        document_volume_floor=6,
    )


def test_unset_keys_keep_their_defaults() -> None:
    """Setting one key changes only that one."""
    got = parse_knowledge_policy({"volume_floor": 3})
    assert got == KnowledgeLimits(volume_floor=3)


def test_the_bounds_themselves_are_accepted() -> None:
    """Near misses on the good side: the smallest and largest allowed values."""
    low = parse_knowledge_policy(
        {"max_correction_chars": 1, "window_minutes": 1, "baseline_days": 1, "volume_factor": 1}
    )
    assert (low.max_correction_chars, low.window, low.volume_factor) == (
        1,
        timedelta(minutes=1),
        1.0,
    )
    high = parse_knowledge_policy({"max_correction_chars": 100_000, "direction_share": 1})
    assert (high.max_correction_chars, high.direction_share) == (100_000, 1.0)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"volume_flor": 3}, "volume_flor"),
        ({"max_correction_chars": 0}, "max_correction_chars"),
        ({"max_correction_chars": 100_001}, "max_correction_chars"),
        ({"max_correction_chars": 10.0}, "max_correction_chars"),
        ({"max_correction_chars": True}, "max_correction_chars"),
        ({"window_minutes": "60"}, "window_minutes"),
        ({"baseline_days": 91}, "baseline_days"),
        ({"volume_floor": 0}, "volume_floor"),
        ({"direction_min": -1}, "direction_min"),
        ({"document_volume_floor": 1.5}, "document_volume_floor"),
        ({"feedback_rate": "lots of SECRETVALUE"}, "feedback_rate"),
        ({"feedback_rate": 30}, "feedback_rate"),
        ({"document_rate": ""}, "document_rate"),
        ({"volume_factor": 0.99}, "volume_factor"),
        ({"volume_factor": float("nan")}, "volume_factor"),
        ({"volume_factor": False}, "volume_factor"),
        ({"direction_share": 0}, "direction_share"),
        ({"direction_share": 1.01}, "direction_share"),
        ({"direction_share": "plenty"}, "direction_share"),
    ],
)
def test_a_bad_value_is_refused_naming_the_key_not_the_value(
    table: dict[str, Any], key: str
) -> None:
    """Wrong type, out of bounds, not a limits string, unknown key: a ValueError that
    says which key, and never echoes what was written."""
    with pytest.raises(ValueError, match=f"^knowledge: .*{key}") as info:
        parse_knowledge_policy(table)
    assert "SECRETVALUE" not in str(info.value)
    for value in table.values():
        if isinstance(value, str) and value:
            assert value not in str(info.value)


def test_the_policy_carries_the_table_and_resolving_parses_it() -> None:
    """[knowledge] in a policy file reaches ResolvedPolicy.knowledge; a bad one makes
    resolving the policy fail (the gateway then answers policy_unavailable)."""
    policy = parse_policy("[knowledge]\nvolume_floor = 3\n", "strict", "strict.toml")
    resolved = resolve_policy(policy, default_registry())
    assert resolved.knowledge == KnowledgeLimits(volume_floor=3)
    assert resolve_policy(Policy(), default_registry()).knowledge == KnowledgeLimits()
    with pytest.raises(ValueError, match="knowledge: volume_floor"):
        resolve_policy(Policy(knowledge={"volume_floor": 0}), default_registry())
