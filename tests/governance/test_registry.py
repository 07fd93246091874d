"""The model registry: versions kept, the configuration applied once per change, one-step
rollback that survives a restart, every change in the deployment's audit chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from bastion.audit import verify_chain
from bastion.governance.audit import recorder
from bastion.governance.registry import ModelRegistry, RegistryError, is_pinned
from bastion.secrets import DEPLOYMENT
from bastion.settings import ModelConfig
from bastion.store.schema import AuditRecord


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def model(upstream: str, **extra: object) -> ModelConfig:
    return ModelConfig.model_validate(
        {
            "name": "gpt-prod",
            "base_url": "https://api.example/v1",
            "upstream_model": upstream,
            "region": "eu-west-1",
            **extra,
        }
    )


def registry(engine: Engine) -> ModelRegistry:
    return ModelRegistry(engine, Clock(), recorder(engine, None))


def governance_records(engine: Engine) -> list[dict[str, object]]:
    query = (
        select(AuditRecord.body)
        .where(AuditRecord.tenant_id == DEPLOYMENT)
        .order_by(AuditRecord.seq)
    )
    with engine.connect() as conn:
        return [json.loads(body) for body in conn.execute(query).scalars()]


def serving(reg: ModelRegistry, configured: list[ModelConfig]) -> list[tuple[str, str]]:
    return [(m.name, m.target_model) for m in reg.served(configured)]


def test_the_configuration_is_applied_once_per_change_and_rollback_survives(
    engine: Engine,
) -> None:
    reg = registry(engine)
    v1 = [model("gpt-4o-2024-08-06")]
    assert reg.sync_config(v1) == 1
    assert reg.sync_config(v1) == 0  # a restart with the same configuration
    v2 = [model("gpt-4o-2024-11-20")]
    assert reg.sync_config(v2) == 1
    assert serving(reg, v2) == [("gpt-prod", "gpt-4o-2024-11-20")]
    assert reg.rollback("gpt-prod", actor="cli") == (2, 1)
    assert serving(reg, v2) == [("gpt-prod", "gpt-4o-2024-08-06")]
    assert reg.sync_config(v2) == 0  # the same configuration does not undo the rollback
    assert serving(reg, v2) == [("gpt-prod", "gpt-4o-2024-08-06")]
    history = reg.history("gpt-prod")
    assert [(v.version, v.source, v.region) for v in history] == [
        (1, "config", "eu-west-1"),
        (2, "config", "eu-west-1"),
    ]
    assert reg.use("gpt-prod", 2, actor="cli") == (1, 2)
    v3 = [model("gpt-4o-2024-11-20", read_timeout=30.0)]  # any change is a new version
    assert reg.sync_config(v3) == 1 and reg.history("gpt-prod")[-1].version == 3
    outcomes = [r["outcome"] for r in governance_records(engine)]
    assert outcomes == [
        "model_registered",
        "model_registered",
        "model_rollback",
        "model_version_set",
        "model_registered",
    ]
    assert verify_chain(engine).ok


def test_no_key_is_kept_and_headers_stay_in_the_configuration(engine: Engine) -> None:
    reg = registry(engine)
    configured = model(
        "claude-3-5-sonnet-20241022",
        provider="anthropic",
        api_key_secret="anthropic-prod",
        headers={"x-org-token": "org-secret-value"},
    )
    version = reg.register(configured.with_sealed_key("sk-ant-sealed"), actor="cli")
    assert version.spec["api_key_secret"] == "anthropic-prod" and "headers" not in version.spec
    (served,) = reg.served([configured])
    assert served.headers == {"x-org-token": "org-secret-value"}
    assert served.api_key() is None  # the key is opened by the gateway, not stored here
    with engine.connect() as conn:
        stored = " ".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM model_versions"))
    stored += json.dumps(governance_records(engine))
    assert "sk-ant-sealed" not in stored and "org-secret-value" not in stored


def test_what_is_served(engine: Engine) -> None:
    reg = registry(engine)
    configured = [model("gpt-4o-2024-08-06"), ModelConfig(name="local", base_url="http://h/v1")]
    reg.sync_config(configured[:1])  # "local" is configured but never registered
    reg.register(
        ModelConfig(name="cli-only", base_url="https://b/v1", upstream_model="m-1.0"),
        actor="cli",
    )
    assert sorted(n for n, _ in serving(reg, configured)) == ["cli-only", "gpt-prod", "local"]
    # an alias only the configuration registered stops when the configuration drops it
    assert sorted(n for n, _ in serving(reg, [])) == ["cli-only"]


def test_bad_changes_are_refused_with_a_clear_error(engine: Engine) -> None:
    reg = registry(engine)
    with pytest.raises(RegistryError, match="no model 'absent'"):
        reg.rollback("absent", actor="cli")
    reg.sync_config([model("gpt-4o-2024-08-06")])
    with pytest.raises(RegistryError, match="version 1 is its first"):
        reg.rollback("gpt-prod", actor="cli")
    with pytest.raises(RegistryError, match="has no version 7"):
        reg.use("gpt-prod", 7, actor="cli")
    read_only = ModelRegistry(engine, Clock())
    with pytest.raises(RegistryError, match="read-only"):
        read_only.register(model("x-2024-01-01"), actor="cli")
    assert [v.version for v in reg.history("gpt-prod")] == [1]


@pytest.mark.parametrize(
    ("upstream", "pinned"),
    [
        ("gpt-4o-2024-08-06", True),
        ("claude-3-5-sonnet-20241022", True),
        ("gpt-4-0613", True),
        ("llama3.1:8b@sha256:" + "a" * 64, True),
        ("mistral-large-2.1", True),
        ("gpt-4o", False),
        ("claude-3-5-sonnet-latest", False),
        ("llama3:latest", False),
        ("gpt-4o-mini", False),
    ],
)
def test_pinned_means_one_exact_version(upstream: str, pinned: bool) -> None:
    assert is_pinned(upstream) is pinned
