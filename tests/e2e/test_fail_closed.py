"""A scanner that raises or overruns its budget blocks the request end to end."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
import pytest

from bastion.gateway.app import create_app
from bastion.gateway.runtime import Runtime
from bastion.gateway.server import uvicorn_config
from bastion.identity import IdentityService
from bastion.scanners import ScanContext, ScanResult, default_registry
from bastion.store import make_engine
from bastion.testing.scripted_upstream import ScriptedUpstream
from tests.e2e.conftest import ServerThread, gateway_settings
from tests.ports import free_port


class Exploding:
    name = "exploding"

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.mode = options.get("mode", "raise")

    def scan(self, text: str, context: ScanContext) -> ScanResult:
        if self.mode == "slow":
            time.sleep(0.05)
            return ScanResult.allow(self.name)
        raise RuntimeError(f"scanner bug while reading {text!r}")


@pytest.fixture
def hostile_gateway(
    db_url: str, scripted: ScriptedUpstream, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    """A gateway whose tenants 'raises' and 'slow' run a faulty scanner first."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "raises.toml").write_text('input = ["exploding", "secrets"]\n')
    (policies / "slow.toml").write_text(
        'input = ["exploding"]\nscanner_timeout_ms = 5\n[scanners.exploding]\nmode = "slow"\n'
    )
    registry = default_registry()
    registry.register("exploding", Exploding)
    port = free_port()
    settings = gateway_settings(db_url, scripted, port, data_dir=tmp_path, policies_dir=policies)
    engine = make_engine(db_url)
    identity = IdentityService(engine)
    now = datetime.now(UTC)
    keys = {}
    for tenant in ("raises", "slow"):
        identity.ensure_tenant(tenant, now, tenant)
        keys[tenant] = identity.create_key(tenant, f"u@{tenant}.test", now).secret
    runtime = Runtime.build(settings, engine=make_engine(db_url), registry=registry)
    server = ServerThread(uvicorn_config(settings, app=create_app(runtime)))
    server.start()
    try:
        yield f"http://127.0.0.1:{port}/v1", keys
    finally:
        server.stop()
        engine.dispose()


@pytest.mark.parametrize(
    ("tenant", "reason"), [("raises", "scanner_error"), ("slow", "scanner_timeout")]
)
def test_faulty_scanner_blocks(
    hostile_gateway: tuple[str, dict[str, str]],
    scripted: ScriptedUpstream,
    tenant: str,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The request is blocked with the reason code; nothing reaches the upstream."""
    url, keys = hostile_gateway
    client = openai.OpenAI(base_url=url, api_key=keys[tenant], max_retries=0)
    with client, pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "private words"}]
        )
    assert info.value.code == "request_blocked"
    assert reason in str(info.value.body)
    assert "private words" not in json.dumps(info.value.body)
    assert scripted.requests == []
    assert all("private words" not in r.getMessage() for r in caplog.records)
    if reason == "scanner_error":
        assert any("scanner failed" in r.getMessage() for r in caplog.records)
