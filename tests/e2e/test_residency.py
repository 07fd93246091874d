"""Data residency on the hop to the model: a request carrying confidential data is
refused for a model outside the regions the tenant allows for it, and nothing reaches
that upstream; the same request reaches a model in an allowed region."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from bastion.governance.audit import recorder
from bastion.governance.registry import ModelRegistry
from bastion.settings import ModelConfig
from tests.e2e.conftest import Gateway

POLICY = """
[scanners.pii]
to_model = { confidential = "allow" }   # emails reach the model as written

[residency]
default_classification = "internal"
internal = ["*"]
confidential = ["eu-*"]
restricted = ["eu-central-1"]
"""
EMAIL = "Draft a reply to dana.lopez@example.org about the renewal"


@pytest.fixture
def gateway_extra_settings() -> dict[str, object]:
    return {"models_refresh_seconds": 0.2}


def chat(http: httpx.Client, model: str, content: str) -> httpx.Response:
    return http.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": content}]},
    )


def test_confidential_data_goes_only_to_allowed_regions(gateway: Gateway) -> None:
    (gateway.policies_dir / "default.toml").write_text(POLICY)
    registry = ModelRegistry(
        gateway.engine, lambda: datetime.now(UTC), recorder(gateway.engine, gateway.sealer)
    )
    registry.register(
        ModelConfig(
            name="gpt-eu",
            base_url=gateway.upstream.openai_base_url,
            upstream_model="scripted-gpt-2024-12-01",
            region="eu-west-1",
        ),
        actor="cli",
    )
    with httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {gateway.key}"}, timeout=30
    ) as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "gpt-eu" in {m["id"] for m in http.get("/v1/models").json()["data"]}:
                break
            time.sleep(0.1)
        before = len(gateway.upstream.requests)
        assert chat(http, "gpt-test", "Summarise our onboarding checklist").status_code == 200
        refused = chat(http, "gpt-test", EMAIL)  # no region: only "*" data may go there
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "residency_denied" and "confidential" in error["message"]
        assert "dana.lopez" not in refused.text
        assert len(gateway.upstream.requests) == before + 1  # the refused one never left
        allowed = chat(http, "gpt-eu", EMAIL)
        assert allowed.status_code == 200, allowed.text
        sent = gateway.upstream.requests[-1].body
        assert sent["model"] == "scripted-gpt-2024-12-01"
        assert "dana.lopez@example.org" in str(sent["messages"])
        # A card is restricted: not even eu-west-1 may receive it raw... but the tenant
        # pseudonymizes restricted data by default, so what is sent is a placeholder.
        card = chat(http, "gpt-eu", "Card 4111 1111 1111 1111 was declined")
        assert card.status_code == 200
        assert "4111" not in str(gateway.upstream.requests[-1].body["messages"])
    records = [b for b in gateway.audit_bodies() if "residency_denied" in b]
    assert len(records) == 1  # the refusal is recorded like any other decision
    assert gateway.verify().ok


def test_a_bad_residency_table_makes_the_policy_unavailable(gateway: Gateway) -> None:
    (gateway.policies_dir / "default.toml").write_text('[residency]\nsecret = ["*"]\n')
    with httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {gateway.key}"}, timeout=30
    ) as http:
        answer = chat(http, "gpt-test", "hello")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "policy_unavailable"
