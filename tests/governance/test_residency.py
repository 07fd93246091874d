"""``[residency]``: patterns per classification, inheritance, fail-closed regions."""

from __future__ import annotations

import pytest

from bastion.governance.residency import ResidencyDenied, parse_residency_policy


def test_no_table_no_rules() -> None:
    policy = parse_residency_policy({})
    assert not policy.active and policy.permits("restricted", "")


def test_labels_inherit_from_the_next_lower_one_and_regions_match_patterns() -> None:
    policy = parse_residency_policy(
        {"internal": ["eu-*", "US-East-1"], "restricted": ["eu-central-1"]}
    )
    assert policy.permits("public", "") and policy.permits("public", "ap-south-1")
    assert policy.permits("internal", "eu-west-1") and policy.permits("internal", "us-east-1")
    assert not policy.permits("internal", "ap-south-1")
    assert policy.permits("confidential", "eu-west-1")  # inherits internal's list
    assert not policy.permits("restricted", "eu-west-1")
    assert policy.permits("restricted", "EU-CENTRAL-1")
    assert not policy.permits("internal", "")  # an unlabelled component gets only "*" data
    assert policy.highest("eu-central-1") == 3 and policy.highest("ap-south-1") == 0
    assert policy.classify([]) == "internal"
    assert policy.classify(["public", "confidential", "bogus"]) == "confidential"
    with pytest.raises(ResidencyDenied) as refused:
        policy.check("restricted", "eu-west-1", "the model m")
    assert refused.value.status == 403 and refused.value.code == "residency_denied"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"secret": ["*"]}, "unknown key 'secret'"),
        ({"internal": "eu-*"}, "'internal' must be a list"),
        ({"internal": [""]}, "'internal' must be a list"),
        ({"default_classification": "top"}, "'default_classification' must be one of"),
        ({"public": ["r"] * 65}, "more than 64"),
    ],
)
def test_bad_tables_are_refused(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_residency_policy(table)
