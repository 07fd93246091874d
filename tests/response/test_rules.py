"""Rules built from evidence: a table with near misses, and the TOML a policy is written as."""

from __future__ import annotations

import math
import tomllib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.policy import Policy, default_policy
from bastion.response import _toml
from bastion.response.rules import apply_patch, injection_proposal, output_rule, patched

BLOCK_SSN = {"op": "set", "path": "scanners.pii.entities.US_SSN.to_user", "value": "block"}
PII_ON = {"op": "ensure_in", "path": "output", "value": "pii"}
SECRETS = [
    {"op": "ensure_in", "path": "output", "value": "secrets"},
    {"op": "set", "path": "scanners.secrets.output_action", "value": "block"},
]


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ([("pii", "pii:US_SSN")], [PII_ON, BLOCK_SSN]),
        ([(None, "pii:US_SSN")], [PII_ON, BLOCK_SSN]),  # scanner inferred from the type
        ([(None, "pii:US_SSN"), ("pii", "pii:US_SSN")], [PII_ON, BLOCK_SSN]),  # once
        ([("pii", "pii:US_SSNX")], []),  # near miss: no such entity type
        ([("pii", "US_SSN")], []),  # near miss: not a pii finding's shape
        ([(None, "pii:")], []),
        ([("secrets", "aws_access_key")], SECRETS),
        ([(None, "aws_access_key")], []),  # a bare type names no scanner
        ([("canary", "canary_partial")], [
            {"op": "ensure_in", "path": "output", "value": "canary"}
        ]),
        ([(None, "system_prompt")], [
            {"op": "ensure_in", "path": "output", "value": "system_prompt_leak"}
        ]),
        ([("prompt_injection", "injection:hijack")], []),  # an input scanner
        ([("toxicity", "insult")], []),
    ],
)  # fmt: skip
def test_output_rule(evidence: list[tuple[str | None, str]], expected: list[Any]) -> None:
    assert output_rule(evidence) == expected


def test_an_output_rule_applies_as_a_valid_policy() -> None:
    policy = patched(default_policy(), output_rule([("pii", "pii:US_SSN"), ("secrets", "x")]))
    assert policy.scanners["pii"]["entities"]["US_SSN"]["to_user"] == "block"
    assert policy.output == default_policy().output  # already there: not repeated


def test_the_injection_proposal_never_loosens_a_threshold() -> None:
    strict = Policy(scanners={"prompt_injection": {"threshold": 0.2, "indirect_threshold": 0.1}})
    loose = Policy(
        input=("prompt_injection",),
        scanners={"prompt_injection": {"threshold": 0.9}},
        spotlight=False,
    )
    paths = {op["path"]: op["value"] for op in injection_proposal([], strict)}
    assert "scanners.prompt_injection.threshold" not in paths
    assert "scanners.prompt_injection.indirect_threshold" not in paths
    loosened = {op["path"]: op["value"] for op in injection_proposal([], loose)}
    assert loosened["scanners.prompt_injection.threshold"] == 0.4
    assert loosened["spotlight"] is True
    assert patched(loose, injection_proposal(["encoded:base64"], loose)).input == (
        "prompt_injection",
        "invisible_text",
    )


def test_a_patch_cannot_cross_a_value() -> None:
    with pytest.raises(ValueError, match="non-table"):
        apply_patch({"canary": True}, [{"op": "set", "path": "canary.x", "value": 1}])


def test_the_default_policy_survives_its_toml_form() -> None:
    data = default_policy().model_dump(mode="json", exclude={"name"})
    assert tomllib.loads(_toml.dump(data)) == data


_keys = st.text(min_size=1, max_size=12)
_scalars = (
    st.text(max_size=30)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(_keys, _values, max_size=6))
def test_toml_round_trips(data: dict[str, Any]) -> None:
    """Whatever a policy's data holds, reading the TOML back gives it back."""
    assert tomllib.loads(_toml.dump(data)) == data


@pytest.mark.parametrize("value", [None, math.inf, object()])
def test_toml_refuses_what_it_cannot_write(value: object) -> None:
    with pytest.raises(ValueError, match=r"policy value|finite"):
        _toml.dump({"a": [value]})
