"""`bastion audit verify|export` on a real log, before and after tampering."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from bastion.audit import AuditEvent, AuditLog
from bastion.identity import IdentityService
from bastion.store import make_engine
from bastion.store.tenancy import maintenance
from tests.cli_helpers import bastion


def fill(data_dir: Path, env: dict[str, str], n: int) -> str:
    """Initialise through the CLI, then append ``n`` records for tenant 'default'
    through the application's connection."""
    assert bastion("init", data_dir=data_dir, env=env).returncode == 0
    engine = make_engine(env["BASTION_DATABASE_URL"])
    tenant_id = IdentityService(engine).tenant_id("default")

    async def append() -> None:
        async with AuditLog(engine) as log:
            for i in range(n):
                await log.append(
                    AuditEvent(
                        ts=datetime.now(UTC),
                        request_id=f"req-{i}",
                        tenant_id=tenant_id,
                        user_id="u",
                        key_id="k",
                        model="m",
                        route="/v1/chat/completions",
                        outcome="allowed",
                        prompt=[{"role": "user", "content": f"question {i}"}],
                        response=[f"answer {i}"],
                    )
                )

    asyncio.run(append())
    engine.dispose()
    return tenant_id


def test_verify_export_and_tamper(tmp_path: Path, db_url: str, app_db_url: str) -> None:
    """A clean log verifies and exports; an edited record fails verify, named, exit 1."""
    env = {"BASTION_DATABASE_URL": app_db_url, "BASTION_DATABASE_ADMIN_URL": db_url}
    fill(tmp_path, env, 5)
    ok = bastion("audit", "verify", data_dir=tmp_path, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok" in ok.stdout
    one = bastion("audit", "verify", "--tenant", "default", data_dir=tmp_path, env=env)
    assert one.returncode == 0, one.stdout + one.stderr
    assert "1 tenant(s), 5 record(s)" in one.stdout
    exported = bastion("audit", "export", "--format", "jsonl", data_dir=tmp_path, env=env)
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5]
    assert rows[2]["request_id"] == "req-2"
    assert rows[3]["prev_hash"] == rows[2]["hash"]

    engine = make_engine(db_url)
    with maintenance(engine).begin() as conn:  # the owner, editing a record by hand
        conn.execute(
            text(
                "UPDATE audit_records SET body = replace(body, 'answer 2', 'answer X') "
                "WHERE seq = 3"
            )
        )
    engine.dispose()
    bad = bastion("audit", "verify", data_dir=tmp_path, env=env)
    assert bad.returncode == 1
    assert "TAMPERED" in bad.stdout
    assert "modified at seq 3" in bad.stdout
    assert "req-2" in bad.stdout
    assert "answer" not in bad.stdout  # the report names records, never their content
