"""`bastion demo` (what `make demo` runs) completes its tour, non-interactively."""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import bastion
from tests.ports import free_port


def test_demo_tour(tmp_path: Path) -> None:
    """Each step shows the expected outcome and the audit log verifies."""
    result = bastion("demo", "--no-wait", "--port", str(free_port()), data_dir=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "NOT a real model" in out
    assert "model says: Happy to help." in out
    assert out.count("blocked: request_blocked") == 2
    assert "secret_detected" in out
    assert "injection." in out  # step 4: stopped at input
    assert "canary_leak" in out or "system_prompt_leak" in out  # step 5: at output
    assert "Traceback" not in out + result.stderr
    assert "stream stopped" in out
    assert "characters the client received before the stop: 0" in out
    assert "audit log ok" in out
    # step 6: the same question, each user's own region, masked; writes refused
    assert out.count("states ['CA'], emails ['***']") == 2  # also when the model widens it
    assert out.count("states ['NY'], emails ['***']") == 1
    assert "refused by the guard: not_select" in out
    # step 8: the detector's alert isolates the key on its own, until it is released
    assert "playbook injection ran on its own: incident contained" in out
    assert "isolate_session: done" in out
    assert "mallory's next request: 403 isolated" in out
    assert "mallory's request after the release: 200" in out
    assert "/console (break-glass sign-in: organisation demo, admin@demo.test, password " in out
    assert "unexpected" not in out
