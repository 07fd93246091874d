"""The secrets scanner: provider formats, near misses and stage-dependent actions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.scanners import Decision, ScanContext, SecretsScanner, Stage

from .scanner_helpers import load_vectors

VECTORS = load_vectors()


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [f"{row['kind'] or 'none'}:{row['note'] or i}" for i, row in enumerate(rows)]


@pytest.mark.parametrize("row", VECTORS["positive"], ids=_ids(VECTORS["positive"]))
def test_positive_vectors_are_found_with_their_type(row: dict[str, Any]) -> None:
    """Every positive vector yields a finding of its kind covering the random body."""
    text = "".join(row["parts"])
    body_start = len("".join(row["parts"][:2]))
    body_end = body_start + len(row["parts"][2])
    findings = SecretsScanner().find(text)
    assert any(
        f.type == row["kind"] and f.start <= body_start and f.end >= body_end for f in findings
    )


@pytest.mark.parametrize("row", VECTORS["negative"], ids=_ids(VECTORS["negative"]))
def test_near_misses_are_not_secrets(row: dict[str, Any]) -> None:
    """Near misses (wrong length, placeholders, public keys, prose) find nothing."""
    assert SecretsScanner().find("".join(row["parts"])) == ()


def test_input_blocks_and_output_redacts_by_default() -> None:
    """The stage picks the action: block on input, redact on output."""
    text = "key " + "".join(VECTORS["positive"][0]["parts"])
    scanner = SecretsScanner()
    blocked = scanner.scan(text, ScanContext(stage=Stage.INPUT))
    redacted = scanner.scan(text, ScanContext(stage=Stage.OUTPUT))
    assert (blocked.decision, blocked.reason) == (Decision.BLOCK, "secret_detected")
    assert (redacted.decision, redacted.reason) == (Decision.REDACT, "secret_detected")


def test_actions_are_configurable() -> None:
    """``input_action``/``output_action`` override the defaults."""
    text = "".join(VECTORS["positive"][0]["parts"])
    scanner = SecretsScanner({"input_action": "redact", "output_action": "block"})
    assert scanner.scan(text, ScanContext(stage=Stage.INPUT)).decision is Decision.REDACT
    assert scanner.scan(text, ScanContext(stage=Stage.OUTPUT)).decision is Decision.BLOCK


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"input_action": "allow"}, "input_action"),
        ({"output_action": 1}, "output_action"),
        ({"inputaction": "block"}, "inputaction"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], named: str) -> None:
    """A bad option raises ValueError naming it."""
    with pytest.raises(ValueError, match=named):
        SecretsScanner(options)


def test_pem_without_end_line_covers_the_body() -> None:
    """A truncated private key is covered from BEGIN to its last base64 line."""
    row = next(r for r in VECTORS["positive"] if r["note"] == "truncated: no END line")
    text = "".join(row["parts"]) + "That was all of it."
    (finding,) = SecretsScanner().find(text)
    assert text[finding.end :].strip() == "That was all of it."


def test_scanner_repr_holds_no_text() -> None:
    """The repr shows options only."""
    assert repr(SecretsScanner()) == (
        "SecretsScanner(input_action='block', output_action='redact', identifiers='record')"
    )


@given(st.text(alphabet=st.characters(codec="ascii", exclude_characters="_-"), max_size=300))
def test_prose_without_separators_holds_few_candidates(text: str) -> None:
    """Findings always lie inside the text and are sorted."""
    findings = SecretsScanner().find(text)
    assert all(0 <= f.start < f.end <= len(text) for f in findings)
    assert list(findings) == sorted(findings, key=lambda f: (f.start, f.end))


@given(st.sampled_from(VECTORS["positive"]), st.text(max_size=40), st.text(max_size=40))
def test_secrets_are_found_whatever_surrounds_them(
    row: dict[str, Any], before: str, after: str
) -> None:
    """A vector set off by spaces is found whatever text sits before and after it."""
    start = len(before) + 1 + len("".join(row["parts"][:2]))
    end = start + len(row["parts"][2])
    text = f"{before} {''.join(row['parts'])} {after}"
    findings = SecretsScanner().find(text)
    assert any(f.type == row["kind"] and f.start <= start and f.end >= end for f in findings)


def test_jwt_is_recognised_from_its_header_and_payload_start() -> None:
    """A JWT is found once ``.eyJ`` follows its header, before the signature arrives."""
    head = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIi"
    (finding,) = SecretsScanner().find(head)
    assert (finding.type, finding.start, finding.end) == ("jwt", 7, len(head))
