"""``bastion threat-model``: the document names the deployment's real sources, owners,
classifications, models, actions and regions, and maps each component against the
tenant's residency rules; no credential is read into it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.datasources.sources import DataSources
from bastion.identity import IdentityService
from bastion.store import make_engine
from bastion.store.tenancy import maintenance
from tests.cli_helpers import bastion
from tests.test_cli import data_dir, run

__all__ = ["data_dir"]

URL = "postgresql+psycopg://reader:hunter2-db-password@db.corp.internal:5432/sales"
POLICY = """
[actions]
enabled = ["create_ticket"]
[actions.create_ticket]
source = "helpdesk"

[response.auto]
injection_rate = { playbook = "injection", min_severity = "high" }

[residency]
internal = ["*"]
confidential = ["eu-*"]
restricted = ["eu-central-1"]
"""


def now() -> datetime:
    return datetime.now(UTC)


def threat_model(data_dir: Path, *args: str):  # type: ignore[no-untyped-def]
    env = {
        "BASTION_DATABASE_URL": (data_dir / "db_url").read_text(),
        "BASTION_DATABASE_ADMIN_URL": (data_dir / "admin_db_url").read_text(),
        "BASTION_POLICIES_DIR": str(data_dir / "policies"),
        "BASTION_DATABASE_REGION": "eu-central-1",
        "BASTION_SIEM_SINKS": '[{"name": "soc", "kind": "syslog", "host": "127.0.0.1", '
        '"port": 6514, "region": "us-east-1"}]',
        "BASTION_MODELS": json.dumps(
            [
                {
                    "name": "gpt-us",
                    "base_url": "https://api.example/v1",
                    "upstream_model": "gpt-4o",
                    "region": "us-east-1",
                }
            ]
        ),
    }
    return bastion("threat-model", *args, data_dir=data_dir, env=env)


def test_the_threat_model_reflects_the_live_configuration(data_dir: Path) -> None:
    assert run(data_dir, "init").returncode == 0
    (data_dir / "policies").mkdir()
    (data_dir / "policies" / "default.toml").write_text(POLICY)
    engine = maintenance(make_engine((data_dir / "admin_db_url").read_text()))
    identity = IdentityService(engine)
    tenant = identity.tenant_id("default")
    secret = identity.create_key("default", "olga@corp.test", now()).secret
    owner = identity.authenticate(secret, now()).user_id
    kek = base64.b64decode((data_dir / "kek").read_text())  # what `bastion init` wrote
    keyring = Keyring(engine, LocalKeyProvider(kek), now)
    config = {
        "tables": {"orders": {}, "customers": {}},
        "classification": "restricted",
        "region": "eu-west-1",
    }
    DataSources(engine, keyring, now).connect(tenant, owner, "sales", "postgres", URL, config)
    engine.dispose()

    made = threat_model(data_dir)
    assert made.returncode == 0, made.stderr
    text = made.stdout
    headings = ["## Data inputs", "## Outputs", "## Tenants: controls and action scope"]
    headings += ["## Residency map", "## Trust boundaries", "## Failure modes and blast radius"]
    assert all(heading in text for heading in headings)
    assert (
        "| default | sales | postgres | olga@corp.test | customers, orders | restricted "
        "| eu-west-1 |" in text
    )
    assert "create_ticket (2)" in text and "injection_rate -> injection" in text
    assert "(not pinned)" in text
    assert "hunter2" not in text and "reader:" not in text

    data = json.loads(threat_model(data_dir, "--format", "json").stdout)
    (tenant_entry,) = data["tenants"]
    assert tenant_entry["residency_map"] == {
        "connector:sales": "confidential",  # eu-west-1: not for restricted data
        "database": "restricted",
        "model:gpt-us": "internal",
        "siem:soc": "internal",
    }
    assert {b["boundary"] for b in data["trust_boundaries"]} >= {"gateway -> upstream model"}
    bad = threat_model(data_dir, "--format", "pdf")
    assert bad.returncode == 2 and "--format must be" in bad.stderr
