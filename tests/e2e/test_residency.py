"""Data residency on the hop to the model: a request carrying confidential data is
refused for a model outside the regions the tenant allows for it, and nothing reaches
that upstream; the same request reaches a model in an allowed region."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bastion.governance.audit import recorder
from bastion.governance.registry import ModelRegistry
from bastion.settings import ModelConfig
from tests.e2e.conftest import Gateway
from tests.e2e.test_sources_api import user_key

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
def gateway_extra_settings(tmp_path: Path) -> dict[str, object]:
    sources = tmp_path / "sources"
    sources.mkdir()
    return {"models_refresh_seconds": 0.2, "data_sources_sqlite_dir": sources}


def chat(http: httpx.Client, model: str, content: str) -> httpx.Response:
    return http.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": content}]},
    )


def register_model(gateway: Gateway, name: str, region: str) -> None:
    """What `bastion models register` does, then wait for the gateway to serve it."""
    registry = ModelRegistry(
        gateway.engine, lambda: datetime.now(UTC), recorder(gateway.engine, gateway.sealer)
    )
    config = ModelConfig(
        name=name,
        base_url=gateway.upstream.openai_base_url,
        upstream_model="scripted-gpt-2024-12-01",
        region=region,
    )
    registry.register(config, actor="cli")
    with httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {gateway.key}"}, timeout=30
    ) as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if name in {m["id"] for m in http.get("/v1/models").json()["data"]}:
                return
            time.sleep(0.1)
    raise AssertionError(f"{name} was not served")


def test_confidential_data_goes_only_to_allowed_regions(gateway: Gateway) -> None:
    (gateway.policies_dir / "default.toml").write_text(POLICY)
    register_model(gateway, "gpt-eu", "eu-west-1")
    with httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {gateway.key}"}, timeout=30
    ) as http:
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


def test_a_sources_rows_reach_only_models_and_regions_its_classification_allows(
    gateway: Gateway, gateway_extra_settings: dict[str, object], tmp_path: Path
) -> None:
    (gateway.policies_dir / "default.toml").write_text(POLICY)
    register_model(gateway, "gpt-frankfurt", "eu-central-1")
    key, _ = user_key(gateway, "ana@acme.test")
    directory = Path(str(gateway_extra_settings["data_sources_sqlite_dir"]))
    with sqlite3.connect(directory / "hr.db") as db:
        db.execute("CREATE TABLE salaries (id INTEGER, amount INTEGER)")
        db.execute("INSERT INTO salaries VALUES (1, 90000)")
    url = f"sqlite:///{directory / 'hr.db'}"

    def source(name: str, region: str) -> None:
        config = {"tables": {"salaries": {}}, "classification": "restricted", "region": region}
        made = http.post(
            "/v1/sources", json={"name": name, "kind": "sqlite", "url": url, "config": config}
        )
        assert made.status_code == 201, made.text

    def query(model: str, name: str) -> dict[str, object]:
        sql = "SELECT id, amount FROM salaries"
        message = "TOOL:run_query:" + json.dumps({"source": name, "sql": sql})
        reply = http.post("/v1/assistant/chat", json={"model": model, "message": message})
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    with httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {key}"}, timeout=30
    ) as http:
        source("hr-frankfurt", "eu-central-1")
        source("hr-dublin", "eu-west-1")
        ran = query("gpt-frankfurt", "hr-frankfurt")
        to_unlabelled_model = query("gpt-test", "hr-frankfurt")
        from_dublin = query("gpt-frankfurt", "hr-dublin")
    assert "90000" in str(ran["answer"])
    for refused in (to_unlabelled_model, from_dublin):
        assert "residency_denied" in str(refused["answer"])
        assert "90000" not in json.dumps(refused)
    assert "may not reach the model gpt-test" in str(to_unlabelled_model["answer"])
    assert "kept in a region outside the allowed ones" in str(from_dublin["answer"])
    records = [json.loads(b) for b in gateway.audit_bodies()]
    denied = [
        access
        for r in records
        for access in r.get("data_sources", [])
        if access.get("error") == "residency_denied"
    ]
    assert len(denied) == 2 and all(a["status"] == "refused" for a in denied)
    assert gateway.verify().ok
