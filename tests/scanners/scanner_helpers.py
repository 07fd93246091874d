"""Helpers shared by the scanner tests: the vector file and small pipelines."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from bastion.policy import Policy
from bastion.scanners import Pipeline, build_pipeline, default_registry

DATA = Path(__file__).parent / "data"
CANARY = "bst-c-0123456789abcdef01234567"


def load_vectors() -> dict[str, list[dict[str, Any]]]:
    with (DATA / "secret_vectors.json").open() as fh:
        data: dict[str, list[dict[str, Any]]] = json.load(fh)
    return data


def make_pipeline(**policy: Any) -> Pipeline:
    return build_pipeline(Policy(**policy), default_registry())


@functools.cache
def default_pipeline() -> Pipeline:
    """The default policy's pipeline, built once: property tests run it many times,
    and scanners keep no state between calls."""
    return make_pipeline()
