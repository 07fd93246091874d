"""Test doubles for the injection scanner tests."""

from __future__ import annotations

import pytest

from bastion.scanners.injection.scanner import TextClassifier


class ConstantClassifier:
    """A classifier stub that gives every text the same probability."""

    def __init__(self, probability: float) -> None:
        self.probability = probability
        self.calls = 0

    def score(self, text: str) -> float:
        self.calls += 1
        return self.probability


def real_model() -> TextClassifier:
    """The built-in model, or a skip saying why it cannot be used here."""
    try:
        from bastion.scanners.injection.model import InjectionModel, ModelIntegrityError
    except ImportError:
        pytest.skip("bastion.scanners.injection.model is not available yet")
    try:
        return InjectionModel.load_default()
    except ModelIntegrityError as exc:
        pytest.skip(f"the built-in injection model does not load: {exc}")
