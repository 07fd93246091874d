"""Goal styles and the document vector against a real gateway: every injection lure runs
with a loud and a quiet goal and each finding says which; the quiet goal on its own
passes the default input scanner (so what blocks a quiet attack is its lure); planted
documents are quarantined by the default policy, obeyed by a hijackable model under a
weakened one, and always deleted with their collection."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text

from bastion.governance.redteam import latest_report
from bastion.governance.redteam.judge import GoalStyle, new_goal
from tests.e2e.conftest import Gateway
from tests.governance.redteam.helpers import GOAL_SCENARIOS, by_scenario, redteam, weak_key


def leftovers(gateway: Gateway, key: str) -> tuple[list[str], int]:
    """The red team's collections the key still sees, and the documents stored at all."""
    with httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {key}"}
    ) as http:
        sources = http.get("/v1/sources").json()
    with gateway.engine.connect() as conn:
        documents = conn.execute(text("SELECT count(*) FROM documents")).scalar_one()
    return [s["name"] for s in sources if s["name"].startswith("redteam-")], documents


def _hex(rng: random.Random) -> Callable[[int], str]:
    return lambda n: rng.randbytes(n).hex()


def test_the_quiet_goal_alone_passes_the_input_scanner(gateway: Gateway) -> None:
    """Sent on its own, every quiet wording reaches the model and every loud one is
    refused: so a refused quiet attack was refused for its lure."""
    goals = [new_goal(_hex(random.Random(seed))) for seed in range(6)]  # like real tokens
    with httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {gateway.key}"}
    ) as http:
        for goal, variant in itertools.product(goals, range(3)):
            for style, status in ((GoalStyle.QUIET, 200), (GoalStyle.LOUD, 400)):
                message = {"role": "user", "content": goal.text(variant, style)}
                got = http.post(
                    "/v1/chat/completions", json={"model": "gpt-test", "messages": [message]}
                )
                assert got.status_code == status, (variant, style, got.text)


def test_quiet_goal_findings_carry_their_style(gateway: Gateway, tmp_path: Path) -> None:
    """``--goals quiet`` runs each lure once, quietly: ids end in ``:quiet``, the goal is
    in every finding, the JSON and Markdown summaries count by style; attacks without
    a goal (extraction) carry none."""
    markdown = tmp_path / "report.md"
    scenarios = ",".join((*GOAL_SCENARIOS, "prompt_extraction"))
    result, report = redteam(
        gateway, tmp_path, "--scenarios", scenarios, "--limit", "2", "--goals", "quiet",
        "--markdown", str(markdown), "--verbose", key=weak_key(gateway),
    )  # fmt: skip
    for scenario in GOAL_SCENARIOS:
        found = by_scenario(report, scenario)
        assert [f["goal"] for f in found] == ["quiet", "quiet"]
        assert all(f["attack_id"].endswith(":quiet") for f in found)
        assert report["summary_by_goal"][scenario] == {
            "quiet": {"blocked": 2, "got_through": 0, "error": 0, "skipped": 0}
        }
    extraction = by_scenario(report, "prompt_extraction")
    assert [f["goal"] for f in extraction] == ["", ""]  # no goal, judged as before
    assert {f["outcome"] for f in extraction} == {"got_through"}
    assert "prompt_extraction" not in report["summary_by_goal"]
    newest = latest_report(tmp_path / "redteam")  # the default save directory
    assert newest is not None
    assert {f.goal for f in newest.findings} == {"quiet", ""}
    shown = markdown.read_text()
    assert "## By goal style" in shown
    assert "| direct_injection | quiet | 2 | 0 | 0 | 0 |" in shown
    assert "| scenario | attack | goal | outcome |" in shown
    assert result.returncode == 1  # the extraction got through


def test_planted_documents_are_quarantined_or_obeyed_and_always_removed(
    gateway: Gateway, tmp_path: Path
) -> None:
    """Default policy: each upload is quarantined (blocked, with the reasons). Weakened
    policy: the loud goal in a retrieved document hijacks the assistant (got through,
    critical), the quiet one is reported blocked. Either way the documents and the
    collection are gone afterwards."""
    _, report = redteam(gateway, tmp_path, "--scenarios", "document_injection", "--limit", "2")
    found = report["findings"]
    assert [f["goal"] for f in found] == ["loud", "quiet"] * 2
    assert [f["attack_id"] for f in found[:2]] == ["doc-ii-email-0", "doc-ii-email-0:quiet"]
    for f in found:
        assert (f["outcome"], f["vector"], f["severity"]) == ("blocked", "document", "critical")
        assert f["evidence"]["note"].startswith("quarantined at upload (")
        assert "prompt_injection:" in f["evidence"]["note"]
    assert leftovers(gateway, gateway.key) == ([], 0)

    key = weak_key(gateway)
    result, report = redteam(
        gateway, tmp_path, "--scenarios", "document_injection", "--limit", "2", key=key
    )
    assert result.returncode == 1
    loud = by_scenario(report, "document_injection", "loud")
    assert [f["outcome"] for f in loud] == ["got_through"] * 2, loud
    for f in loud:
        assert {"canary", "system_prompt"} <= set(f["evidence"]["markers"])
        assert f["evidence"]["note"] == "the answer cited the document"
    quiet = by_scenario(report, "document_injection", "quiet")
    assert [f["outcome"] for f in quiet] == ["blocked"] * 2, quiet
    assert all(f["evidence"]["note"].endswith("the answer cited the document") for f in quiet)
    assert leftovers(gateway, key) == ([], 0)


def test_documents_are_removed_when_the_ask_fails_and_skipped_without_rights(
    gateway: Gateway, tmp_path: Path
) -> None:
    """An assistant that cannot answer (an unknown model) is an error per attack, and
    the documents and collection are still deleted; a key that may not create a
    collection (an approver) gets one skipped finding saying why."""
    key = weak_key(gateway)
    _, report = redteam(
        gateway, tmp_path, "--scenarios", "document_injection", "--limit", "1",
        "--model", "no-such-model", key=key,
    )  # fmt: skip
    assert [f["outcome"] for f in report["findings"]] == ["error", "error"]
    assert leftovers(gateway, key) == ([], 0)
    now = datetime.now(UTC)
    approver = gateway.identity.create_key("acme", "boss@acme.test", now, role="approver").secret
    result, report = redteam(gateway, tmp_path, "--scenarios", "document_injection", key=approver)
    [skipped] = report["findings"]
    assert skipped["outcome"] == "skipped"
    assert skipped["evidence"]["status"] == 403
    assert "may not create a documents collection" in skipped["evidence"]["note"]
    assert result.returncode == 0
