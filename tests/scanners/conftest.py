"""Fixtures for the scanner tests."""

from __future__ import annotations

import pytest

from bastion.scanners import ScanContext, Stage

from .scanner_helpers import CANARY


@pytest.fixture
def input_ctx() -> ScanContext:
    return ScanContext(stage=Stage.INPUT)


@pytest.fixture
def output_ctx() -> ScanContext:
    return ScanContext(stage=Stage.OUTPUT, secrets={"canary": CANARY})
