"""``bastion models``: register, list, history, rollback and use, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import data_dir, run

__all__ = ["data_dir"]


def register(data_dir: Path, upstream: str, *extra: str):  # type: ignore[no-untyped-def]
    return run(
        data_dir,
        "models",
        "register",
        "gpt-prod",
        "--base-url",
        "https://api.example/v1",
        "--upstream-model",
        upstream,
        "--region",
        "eu-west-1",
        *extra,
    )


def test_register_rollback_and_use(data_dir: Path) -> None:
    assert run(data_dir, "init").returncode == 0
    first = register(data_dir, "gpt-4o-2024-08-06", "--api-key-secret", "openai-prod")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "model gpt-prod: version 1 registered and serving"
    second = register(data_dir, "gpt-4o", "--note", "try the moving alias")
    assert "version 2 registered and serving (not pinned" in second.stdout
    (listed,) = [
        json.loads(line) for line in run(data_dir, "models", "list", "--json").stdout.splitlines()
    ]
    assert (listed["version"], listed["pinned"], listed["region"]) == (2, False, "eu-west-1")

    rolled = run(data_dir, "models", "rollback", "gpt-prod")
    assert rolled.returncode == 0 and rolled.stdout.strip() == (
        "model gpt-prod: rolled back from version 2 to 1"
    )
    history = [
        json.loads(line)
        for line in run(data_dir, "models", "history", "gpt-prod", "--json").stdout.splitlines()
    ]
    assert [(v["version"], v["serving"]) for v in history] == [(1, True), (2, False)]
    assert history[1]["note"] == "try the moving alias" and history[0]["created_by"] == "cli"
    used = run(data_dir, "models", "use", "gpt-prod", "2")
    assert used.stdout.strip() == "model gpt-prod: now serving version 2 (was 1)"
    shown = run(data_dir, "models", "list").stdout
    assert "gpt-prod" in shown and "gpt-4o" in shown
    assert run(data_dir, "audit", "verify").returncode == 0


def test_bad_input_gets_a_clear_error(data_dir: Path) -> None:
    assert run(data_dir, "init").returncode == 0
    absent = run(data_dir, "models", "rollback", "absent")
    assert absent.returncode == 1 and "no model 'absent' in the registry" in absent.stderr
    assert register(data_dir, "m-2024-01-01").returncode == 0
    first = run(data_dir, "models", "rollback", "gpt-prod")
    assert first.returncode == 1 and "version 1 is its first" in first.stderr
    unknown = run(data_dir, "models", "use", "gpt-prod", "9")
    assert unknown.returncode == 1 and "has no version 9" in unknown.stderr
    bad = register(data_dir, "m-2024-01-01", "--provider", "skynet")
    assert bad.returncode == 2 and "invalid model: provider" in bad.stderr
    both = register(data_dir, "m-2024-01-01", "--api-key-env", "E", "--api-key-secret", "s")
    assert both.returncode == 2 and "not both" in both.stderr
    missing = run(data_dir, "models", "history", "nope")
    assert missing.returncode == 1 and "no model 'nope'" in missing.stderr
    assert "Traceback" not in absent.stderr + bad.stderr + both.stderr
