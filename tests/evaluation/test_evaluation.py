"""Evaluation: dataset specs, metrics with known answers, the ``bastion eval`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bastion.scanners.injection as injection_package
from bastion.cli import build_app
from bastion.evaluation import (
    Confusion,
    DatasetError,
    load_file,
    percentile,
    recall_at_fpr,
    resolve,
)

FIXTURE = Path(__file__).parent / "data" / "injection_fixture.jsonl"


def test_confusion_known_answers() -> None:
    """3 of 4 attacks and 1 of 4 benign at or above 0.5: P=R=0.75, FPR=0.25."""
    c = Confusion.at([0.9, 0.6, 0.5, 0.1], [0.7, 0.4, 0.2, 0.0], 0.5)
    assert (c.tp, c.fp, c.tn, c.fn) == (3, 1, 3, 1)
    assert c.precision == pytest.approx(0.75)
    assert c.recall == pytest.approx(0.75)
    assert c.f1 == pytest.approx(0.75)
    assert c.fpr == pytest.approx(0.25)


def test_undefined_rates_are_none() -> None:
    """No attacks: recall and F1 are undefined, not zero."""
    c = Confusion.at([], [0.1, 0.2], 0.5)
    assert c.recall is None and c.f1 is None and c.precision is None
    assert c.fpr == 0.0


def test_recall_at_fpr_allows_one_percent() -> None:
    """With 200 benign scores, 2 may be flagged: t* is the third highest benign score."""
    benign = [i / 1000 for i in range(200)]  # 0.000 .. 0.199
    attacks = [0.5, 0.198, 0.1975, 0.05]
    recall, threshold = recall_at_fpr(attacks, benign)
    assert threshold == pytest.approx(0.197)
    assert recall == pytest.approx(0.75)
    assert sum(s > threshold for s in benign) == 2


def test_recall_at_fpr_without_benign_is_undefined() -> None:
    assert recall_at_fpr([0.9], []) == (None, None)


def test_percentile_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) is None


def test_spec_label_suffix_overrides_rows(tmp_path: Path) -> None:
    """PATH:benign labels every row of a plain-text file; without it, it is an error."""
    path = tmp_path / "lines.txt"
    path.write_text("one\n\ntwo\n")
    (dataset,) = resolve(f"{path}:benign", tmp_path)
    assert [e.label for e in dataset.examples] == ["benign", "benign"]
    with pytest.raises(DatasetError, match="need a label"):
        resolve(str(path), tmp_path)


def test_unknown_label_names_the_row_not_the_text(tmp_path: Path) -> None:
    """A bad label value is reported with its row number; the text is not echoed."""
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"text": "secret prompt text", "label": "maybe"}) + "\n")
    with pytest.raises(DatasetError, match="row 1") as info:
        load_file(path)
    assert "secret prompt text" not in str(info.value)


def test_fixture_loads_with_its_labels() -> None:
    examples = load_file(FIXTURE)
    assert sum(e.label == "attack" for e in examples) == 8
    assert sum(e.label == "benign" for e in examples) == 10
    assert "chars=" in repr(examples[0])


def test_unknown_spec_lists_presets(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="issue-benign"):
        resolve("no-such-dataset", tmp_path)


def test_eval_cli_json_on_fixture() -> None:
    """`bastion eval injection --json` reports every metric for the fixture set."""
    result = CliRunner().invoke(
        build_app(), ["eval", "injection", "--dataset", str(FIXTURE), "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    (row,) = payload["datasets"]
    assert (row["attacks"], row["benign"]) == (8, 10)
    assert row["recall"] >= 0.75
    assert row["fpr"] <= 0.1
    assert row["latency_p99_ms"] is not None
    assert "Ignore all previous" not in result.output


def test_eval_cli_table_and_bad_dataset() -> None:
    """The table names the dataset; an unknown dataset exits 2 with a message."""
    runner = CliRunner()
    ok = runner.invoke(build_app(), ["eval", "injection", "-d", f"{FIXTURE}:attack"])
    assert ok.exit_code == 0, ok.output
    assert "injection_fixture.jsonl" in ok.output
    bad = runner.invoke(build_app(), ["eval", "injection", "-d", "nope"])
    assert bad.exit_code == 2


def test_eval_cli_role_selects_the_profile() -> None:
    """`--role document` scans with the indirect profile (named in the output); an
    unknown role exits 2 naming the accepted ones."""
    runner = CliRunner()
    doc = runner.invoke(
        build_app(), ["eval", "injection", "-d", str(FIXTURE), "--role", "document", "--json"]
    )
    assert doc.exit_code == 0, doc.output
    payload = json.loads(doc.output)
    assert "role 'document'" in payload["scorer"]
    (row,) = payload["datasets"]
    assert row["recall"] >= 0.75
    bad = runner.invoke(build_app(), ["eval", "injection", "-d", str(FIXTURE), "--role", "nope"])
    assert bad.exit_code == 2
    assert "unknown role 'nope'" in bad.output
    assert "document" in bad.output


def test_eval_cli_flags_where_the_scanner_blocks_the_role() -> None:
    """Without --threshold, an item is flagged where the gateway would block it: 0.5 for
    the user's words, the stricter indirect threshold (0.35) for documents and tool
    results, 0.5 for a bare model; --threshold overrides."""

    def threshold(*args: str) -> float:
        result = CliRunner().invoke(
            build_app(), ["eval", "injection", "-d", str(FIXTURE), "--json", *args]
        )
        assert result.exit_code == 0, result.output
        return float(json.loads(result.output)["threshold"])

    assert threshold() == 0.5
    assert threshold("--role", "tool") == 0.35
    assert threshold("--role", "document", "--threshold", "0.7") == 0.7
    model = Path(injection_package.__file__).parent / "data"
    assert threshold("--role", "document", "--model", str(model)) == 0.5
