"""Running ``bastion redteam`` against the e2e gateway, shared by this directory's tests."""

from __future__ import annotations

import json
import subprocess as sp
from pathlib import Path
from typing import Any

from tests.cli_helpers import bastion
from tests.e2e.conftest import Gateway

WEAK_POLICY = 'input = ["prompt_size"]\noutput = []\n'
INJECTION = ("direct_injection", "indirect_injection", "jailbreak", "prompt_extraction")
GOAL_SCENARIOS = ("direct_injection", "indirect_injection", "jailbreak")


def redteam(
    gateway: Gateway, tmp_path: Path, *args: str, key: str | None = None
) -> tuple[sp.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / f"report-{len(list(tmp_path.glob('report-*.json')))}.json"
    result = bastion(
        "redteam", "--target", gateway.base_url, "--key", key or gateway.key,
        "--model", "gpt-test", "--json", str(out), *args,
        data_dir=tmp_path,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(out.read_text()) if out.exists() else {}
    return result, report


def by_scenario(
    report: dict[str, Any], scenario: str, goal: str | None = None
) -> list[dict[str, Any]]:
    """The scenario's findings, only those of one goal style when ``goal`` is given."""
    return [
        f
        for f in report["findings"]
        if f["scenario"] == scenario and (goal is None or f["goal"] == goal)
    ]


def weak_key(gateway: Gateway) -> str:
    """A tenant whose policy turns off injection and every output-leak scanner."""
    (gateway.policies_dir / "weak.toml").write_text(WEAK_POLICY)
    return gateway.add_tenant("weak", "weak")
