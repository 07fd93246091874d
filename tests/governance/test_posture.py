"""``bastion posture``: a hardened deployment passes (warnings allowed) and exits 0; a
deliberately weakened one fails the items it weakened, with evidence and a fix, and
exits 1; JSON and Markdown outputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from bastion.governance.redteam.report import Finding, Outcome, RedTeamReport, Severity
from bastion.governance.redteam.store import save_report
from bastion.store import make_engine
from bastion.store.schema import AuditRecord
from bastion.store.tenancy import maintenance
from tests.cli_helpers import bastion
from tests.test_cli import data_dir, run

__all__ = ["data_dir"]

SSO = """
[sso.oidc]
issuer = "https://login.example.com"
client_id = "bastion"
client_secret_name = "corp-idp"
default_role = "member"
"""
HARDENED = (
    SSO
    + """
[response.auto]
injection_rate = { playbook = "injection", min_severity = "high" }

[residency]
internal = ["eu-*"]
restricted = ["eu-central-1"]
"""
)
WEAKENED = 'output = ["canary"]\n' + SSO
SINKS = (
    '[{"name": "soc", "kind": "syslog", "host": "127.0.0.1", "port": 6514, "region": "eu-west-1"}]'
)


def models(upstream: str) -> str:
    return json.dumps(
        [
            {
                "name": "gpt-prod",
                "base_url": "https://api.example/v1",
                "upstream_model": upstream,
                "region": "eu-west-1",
            }
        ]
    )


def posture(data_dir: Path, policy: str, upstream: str, *args: str):  # type: ignore[no-untyped-def]
    policies = data_dir / "policies"
    policies.mkdir(exist_ok=True)
    (policies / "default.toml").write_text(policy)
    env = {
        "BASTION_DATABASE_URL": (data_dir / "db_url").read_text(),
        "BASTION_DATABASE_ADMIN_URL": (data_dir / "admin_db_url").read_text(),
        "BASTION_POLICIES_DIR": str(policies),
        "BASTION_MODELS": models(upstream),
        "BASTION_SIEM_SINKS": SINKS,
        "BASTION_METRICS_TOKEN": "a-metrics-token-of-32-characters-x",
        "BASTION_MODEL_PROBE_SECONDS": "3600",
        "BASTION_DATABASE_REGION": "eu-central-1",
    }
    return bastion("posture", *args, data_dir=data_dir, env=env)


def red_team(data_dir: Path, *, got_through: bool = False) -> None:
    finished = datetime.now(UTC) - timedelta(days=2)
    outcome = Outcome.GOT_THROUGH if got_through else Outcome.BLOCKED
    finding = Finding("direct_injection", "a1", outcome, Severity.CRITICAL)
    report = RedTeamReport(
        "http://127.0.0.1:8080", "gpt-prod", finished, finished, ("direct_injection",), (finding,)
    )
    directory = data_dir / "redteam"
    directory.mkdir(exist_ok=True)
    save_report(report, directory)


def statuses(output: str) -> dict[str, str]:
    return {r["id"]: r["status"] for r in json.loads(output)["results"]}


def register(data_dir: Path, upstream: str) -> None:
    done = run(
        data_dir, "models", "register", "gpt-prod", "--base-url", "https://api.example/v1",
        "--upstream-model", upstream, "--region", "eu-west-1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_hardened_deployment_passes(data_dir: Path) -> None:
    assert run(data_dir, "init").returncode == 0
    register(data_dir, "gpt-4o-2024-08-06")
    red_team(data_dir)
    checked = posture(data_dir, HARDENED, "gpt-4o-2024-08-06", "--format", "json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    found = statuses(checked.stdout)
    assert set(found.values()) <= {"pass", "warn"}
    assert found["tls"] == "warn"  # loopback: TLS is the proxy's, which Bastion cannot see
    passing = {"encryption_at_rest", "safe_setup", "sso", "audit_chain", "playbooks"}
    passing |= {"scanners", "models_pinned", "artifacts", "residency", "redteam", "siem"}
    assert {item for item, status in found.items() if status == "pass"} >= passing
    assert found["model_probes"] == "pass"


def test_a_weakened_deployment_fails_with_evidence_and_fixes(data_dir: Path) -> None:
    assert run(data_dir, "init").returncode == 0
    register(data_dir, "gpt-4o")  # writes to the deployment's audit chain
    red_team(data_dir, got_through=True)
    engine = maintenance(make_engine((data_dir / "admin_db_url").read_text()))
    with engine.begin() as conn:  # someone edits the audit trail
        conn.execute(update(AuditRecord).values(outcome="allowed"))
    engine.dispose()
    out = data_dir / "posture.md"
    checked = posture(data_dir, WEAKENED, "gpt-4o", "--format", "json", "--output", str(out))
    assert checked.returncode == 1
    report: dict[str, Any] = json.loads(checked.stdout)
    by_id = {r["id"]: r for r in report["results"]}
    assert not report["ok"]
    failed = {i for i, r in by_id.items() if r["status"] == "fail"}
    assert {"scanners", "models_pinned", "audit_chain", "redteam"} <= failed
    assert "output:system_prompt_leak" in by_id["scanners"]["evidence"]
    assert "gpt-4o" in by_id["models_pinned"]["evidence"]
    assert "1 high/critical attack(s) got through" in by_id["redteam"]["evidence"]
    assert all(by_id[i]["fix"] for i in failed)
    markdown = out.read_text()
    assert (
        markdown.startswith("# Bastion posture")
        and "| FAIL | Input and output scanners on" in markdown
    )
    table = posture(data_dir, WEAKENED, "gpt-4o")
    assert table.returncode == 1 and "FAIL" in table.stdout and "[sso]" not in table.stdout
    assert "a-metrics-token" not in checked.stdout + table.stdout + markdown


def test_bad_usage(data_dir: Path) -> None:
    assert run(data_dir, "init").returncode == 0
    bad = posture(data_dir, SSO, "gpt-4o-2024-08-06", "--format", "yaml")
    assert bad.returncode == 2 and "--format must be" in bad.stderr
