"""PII evaluation: span matching and metrics with known answers, file errors, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import build_app
from bastion.evaluation import DatasetError
from bastion.evaluation.pii import LabeledText, Span, evaluate_pii, load_pii_file

FIXTURE = Path(__file__).parent / "data" / "pii_fixture.json"

TEXT = "mail a@b.io or call 555-0100 now"
ITEMS = [LabeledText(TEXT, (("EMAIL_ADDRESS", 5, 11), ("PHONE_NUMBER", 20, 28), ("PERSON", 0, 4)))]


def test_exact_and_overlap_matching_known_answers() -> None:
    """A shifted phone span is a miss and a false positive when exact, a hit on overlap;
    gold spans of unsupported types are counted apart, never as misses."""

    def detect(_: str) -> list[Span]:
        return [("EMAIL_ADDRESS", 5, 11), ("PHONE_NUMBER", 19, 28), ("EMAIL_ADDRESS", 29, 32)]

    exact = evaluate_pii(ITEMS, detect, ["EMAIL_ADDRESS", "PHONE_NUMBER"])
    email, phone = exact.by_type["EMAIL_ADDRESS"], exact.by_type["PHONE_NUMBER"]
    assert (email.tp, email.fp, email.fn) == (1, 1, 0)
    assert (phone.tp, phone.fp, phone.fn) == (0, 1, 1)
    assert exact.unsupported == {"PERSON": 1}
    assert exact.overall.precision == pytest.approx(1 / 3)
    assert exact.overall.recall == pytest.approx(1 / 2)

    def with_dob(text: str) -> list[Span]:
        return [*detect(text), ("DATE_OF_BIRTH", 0, 3)]

    judged = evaluate_pii(ITEMS, with_dob, ["EMAIL_ADDRESS", "PHONE_NUMBER", "DATE_OF_BIRTH"])
    assert "DATE_OF_BIRTH" not in judged.by_type  # the data never labels it: not scored
    assert judged.unlabeled == {"DATE_OF_BIRTH": 1}
    assert judged.overall == exact.overall
    overlap = evaluate_pii(ITEMS, detect, ["EMAIL_ADDRESS", "PHONE_NUMBER"], match="overlap")
    assert overlap.by_type["PHONE_NUMBER"].f1 == pytest.approx(1.0)
    assert len(overlap.latencies_ms) == 1


def test_one_prediction_matches_one_gold_span() -> None:
    """Two predictions over one gold span: one hit, one false positive."""

    def detect(_: str) -> list[Span]:
        return [("EMAIL_ADDRESS", 5, 8), ("EMAIL_ADDRESS", 7, 11)]

    report = evaluate_pii(ITEMS, detect, ["EMAIL_ADDRESS"], match="overlap")
    scores = report.by_type["EMAIL_ADDRESS"]
    assert (scores.tp, scores.fp, scores.fn) == (1, 1, 0)


def test_cover_counts_gold_spans_any_finding_overlaps() -> None:
    """One finding over an address the labels split in three finds all three; a
    finding over no gold span is false; an untouched gold span is a miss."""
    text = "at 12 Main St Apt 4 Springfield 12345 and 9 Elm Rd"
    gold = (("STREET_ADDRESS", 3, 13), ("STREET_ADDRESS", 14, 19), ("STREET_ADDRESS", 32, 37))
    items = [LabeledText(text, (*gold, ("STREET_ADDRESS", 42, 50)))]

    def detect(_: str) -> list[Span]:
        return [("STREET_ADDRESS", 3, 37), ("STREET_ADDRESS", 38, 41)]

    cover = evaluate_pii(items, detect, ["STREET_ADDRESS"], match="cover")
    scores = cover.by_type["STREET_ADDRESS"]
    assert (scores.tp, scores.fp, scores.fn) == (3, 1, 1)
    one_to_one = evaluate_pii(items, detect, ["STREET_ADDRESS"], match="overlap")
    scores = one_to_one.by_type["STREET_ADDRESS"]
    assert (scores.tp, scores.fp, scores.fn) == (1, 1, 3)


def test_bad_files_name_the_item_not_the_text(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            [
                {
                    "full_text": "secret 4111",
                    "spans": [{"entity_type": "X", "start_position": 5, "end_position": 99}],
                }
            ]
        )
    )
    with pytest.raises(DatasetError, match="item 0, span 0: offsets outside") as info:
        load_pii_file(bad)
    assert "secret" not in str(info.value)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(DatasetError, match="neither a JSON list nor JSON Lines"):
        load_pii_file(garbage)
    lines = tmp_path / "rows.jsonl"
    lines.write_text(
        '{"text": "a@b.io", "spans": [{"type": "EMAIL_ADDRESS", "start": 0, "end": 6}]}\n'
    )
    assert load_pii_file(lines)[0].spans == (("EMAIL_ADDRESS", 0, 6),)


def test_eval_pii_cli_on_fixture() -> None:
    """`bastion eval pii --json` reports per-type scores for the fixture and no text."""
    result = CliRunner().invoke(build_app(), ["eval", "pii", "-d", str(FIXTURE), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    types = {row["type"]: row for row in payload["types"]}
    for kind in ("EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS"):
        assert types[kind]["f1"] == 1.0, kind
    assert payload["unsupported_gold_spans"] == {"PERSON": 2}
    assert "4111" not in result.output
    table = CliRunner().invoke(build_app(), ["eval", "pii", "-d", str(FIXTURE)])
    assert table.exit_code == 0 and "CREDIT_CARD" in table.output
    bad = CliRunner().invoke(build_app(), ["eval", "pii", "-d", str(FIXTURE), "--match", "x"])
    assert bad.exit_code == 2
