"""Training is reproducible: the same samples give byte-identical model files."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bastion.evaluation._presets import is_train_half
from bastion.scanners.injection.model import InjectionModel

pytest.importorskip("numpy")
TRAINING = Path(__file__).resolve().parents[2] / "training"
FIXTURE = Path(__file__).parent / "data" / "train_fixture.jsonl"
DATA_ROOT = Path("/work/shared/data")


@pytest.fixture(scope="module")
def train_module() -> Iterator[ModuleType]:
    sys.path.insert(0, str(TRAINING))
    try:
        import train_injection

        yield train_injection
    finally:
        sys.path.remove(str(TRAINING))


def _samples(module: ModuleType) -> list[Any]:
    rows = [json.loads(line) for line in FIXTURE.read_text("utf-8").splitlines() if line]
    return [module.Sample(r["text"], r["label"] == "attack", "fixture") for r in rows]


def test_training_twice_gives_identical_bytes(train_module: ModuleType, tmp_path: Path) -> None:
    """Two runs on the committed fixture write the same bytes, and the model loads."""
    samples = _samples(train_module)
    options = {"max_features": 500, "min_df": 1, "steps": 40, "window": 64}
    first = train_module.train(samples, tmp_path / "a", **options)
    second = train_module.train(samples, tmp_path / "b", **options)
    assert first == second
    for name in ("model.json", "weights.f32", "MANIFEST.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    model = InjectionModel.load(tmp_path / "a", expected_sha256=first)
    attack = next(s.text for s in samples if s.attack)
    benign = next(s.text for s in samples if not s.attack)
    assert model.score(attack) > model.score(benign)


def test_half_split_is_stable_and_balanced() -> None:
    """The self-instruct train/held-out split is a pure function of the text."""
    texts = [f"Write a haiku about item {i}." for i in range(400)]
    halves = [is_train_half(t) for t in texts]
    assert halves == [is_train_half(t) for t in texts]
    assert 150 < sum(halves) < 250


@pytest.mark.skipif(not DATA_ROOT.is_dir(), reason="shared data folder absent")
def test_self_instruct_halves_are_disjoint() -> None:
    """The evaluated self-instruct half shares no text with the trained half."""
    from bastion.evaluation import resolve

    held_out = {e.text for ds in resolve("self-instruct-eval", DATA_ROOT) for e in ds.examples}
    trained = {e.text for ds in resolve("self-instruct-train-half", DATA_ROOT) for e in ds.examples}
    assert held_out and trained and not held_out & trained
    assert not any(is_train_half(t) for t in held_out)
