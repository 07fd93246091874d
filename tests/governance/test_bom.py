"""``bastion bom``: a valid CycloneDX 1.6 document of the deployment's models, providers,
local artifacts (with their SHA-256 and pin status) and Python dependencies."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.test_cli import data_dir, run

__all__ = ["data_dir"]

MODELS = json.dumps(
    [
        {
            "name": "gpt-prod",
            "base_url": "https://api.openai.example/v1",
            "upstream_model": "gpt-4o",
            "region": "us-east-1",
            "api_key_secret": "openai-prod",
            "headers": {"x-org-token": "org-header-secret-0042"},
        }
    ]
)


def props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def test_the_bom_names_models_artifacts_and_packages(data_dir: Path) -> None:
    assert run(data_dir, "init").returncode == 0
    registered = run(
        data_dir,
        "models",
        "register",
        "claude-eu",
        "--provider",
        "anthropic",
        "--base-url",
        "https://api.anthropic.example",
        "--upstream-model",
        "claude-3-5-sonnet-20241022",
        "--region",
        "eu-central-1",
    )
    assert registered.returncode == 0, registered.stderr
    onnx = data_dir / "injection.onnx"
    onnx.write_bytes(b"not the file the policy pinned")
    policies = data_dir / "policies"
    policies.mkdir()
    (policies / "strict.toml").write_text(
        f'[scanners.prompt_injection.external]\npath = "{onnx}"\nsha256 = "{"0" * 64}"\n'
    )
    out = data_dir / "bom.json"
    made = _bom(data_dir, out, policies)
    assert made.returncode == 0, made.stderr
    text = out.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    document = json.loads(text)
    components = {c["bom-ref"]: c for c in document["components"]}

    prod, claude = components["model:gpt-prod"], components["model:claude-eu"]
    assert (prod["version"], prod["supplier"]["name"]) == ("gpt-4o", "openai")
    assert props(prod)["bastion:pinned"] == "false" and props(prod)["bastion:region"] == "us-east-1"
    assert claude["version"] == "claude-3-5-sonnet-20241022"
    assert props(claude)["bastion:pinned"] == "true"
    assert props(claude)["bastion:registry_version"] == "1"
    services = {s["name"]: s for s in document["services"]}
    assert sorted(services) == ["api.anthropic.example", "api.openai.example"]

    classifier = components["artifact:bastion-injection-classifier"]
    assert props(classifier)["bastion:intact"] == "true"
    for file in classifier["components"]:
        digest = hashlib.sha256(Path(file["name"]).read_bytes()).hexdigest()
        assert file["hashes"][0]["content"] == digest
    swapped = components[f"artifact:prompt_injection:{onnx.name}"]
    assert props(swapped)["bastion:intact"] == "false"  # the file is not what is pinned

    purls = {c.get("purl", "") for c in document["components"]}
    assert any(p.startswith("pkg:pypi/aiohttp@") for p in purls)
    assert any(p.startswith("pkg:pypi/sqlalchemy@") for p in purls)
    assert not any(p.startswith(("pkg:pypi/pytest@", "pkg:pypi/mypy@")) for p in purls)
    assert "org-header-secret-0042" not in text  # headers and keys never reach the BOM


def _bom(data_dir: Path, out: Path, policies: Path):  # type: ignore[no-untyped-def]
    from tests.cli_helpers import bastion

    env = {
        "BASTION_DATABASE_URL": (data_dir / "db_url").read_text(),
        "BASTION_DATABASE_ADMIN_URL": (data_dir / "admin_db_url").read_text(),
        "BASTION_MODELS": MODELS,
        "BASTION_POLICIES_DIR": str(policies),
    }
    return bastion("bom", "--output", str(out), data_dir=data_dir, env=env)
