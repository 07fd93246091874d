"""BASTION_KEK_PROVIDER: which provider is built, and what makes each setup unsafe."""

from __future__ import annotations

import base64
import importlib.util
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from bastion.audit import sealer_for
from bastion.crypto import LocalKeyProvider
from bastion.crypto.aws_kms import AwsKmsProvider
from bastion.crypto.select import provider_for, read_vault_token
from bastion.crypto.vault import VaultTransitProvider
from bastion.settings import Settings, unsafe_reasons
from bastion.testing.vault_transit import VaultTransitStandIn

GOOD_KEK = base64.b64encode(bytes(range(32))).decode()
TOKEN = "hvs.select-test-token-91c2"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No BASTION_* or AWS settings leak in from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith(("BASTION_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "vault-token"
    path.write_text(TOKEN + "\n")
    return path


def vault_settings(tmp_path: Path, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "data_dir": tmp_path,
        "kek_provider": "vault",
        "vault_addr": "https://vault.example.com:8200",
        "vault_token": TOKEN,
    }
    return Settings(**(fields | overrides))


def test_local_is_the_default_and_unchanged(tmp_path: Path) -> None:
    """local: a LocalKeyProvider when a KEK is configured, None when not."""
    assert Settings(data_dir=tmp_path).kek_provider == "local"
    assert provider_for(Settings(data_dir=tmp_path)) is None
    local = provider_for(Settings(data_dir=tmp_path, kek=GOOD_KEK))
    assert isinstance(local, LocalKeyProvider)
    assert local.key_id == LocalKeyProvider(bytes(range(32))).key_id
    with pytest.raises(ValueError, match="BASTION_KEK"):
        provider_for(Settings(data_dir=tmp_path, kek="not base64!"))


def test_vault_from_environment(
    tmp_path: Path, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BASTION_VAULT_* variables build a Vault provider; the token file is read."""
    for name, value in {
        "BASTION_DATA_DIR": str(tmp_path),
        "BASTION_KEK_PROVIDER": "vault",
        "BASTION_VAULT_ADDR": "https://vault.example.com:8200",
        "BASTION_VAULT_TOKEN_FILE": str(token_file),
        "BASTION_VAULT_TRANSIT_MOUNT": "kms",
        "BASTION_VAULT_TRANSIT_KEY": "gateway",
        "BASTION_VAULT_NAMESPACE": "team-a",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert read_vault_token(settings) == SecretStr(TOKEN)
    provider = provider_for(settings)
    assert isinstance(provider, VaultTransitProvider)
    assert provider.key_id == "vault:vault.example.com:8200/team-a/kms/gateway"
    assert TOKEN not in repr(provider) + repr(settings)
    provider.close()


def test_aws_kms_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """BASTION_AWS_* variables build a KMS provider (nothing is contacted)."""
    monkeypatch.setenv("BASTION_KEK_PROVIDER", "aws-kms")
    monkeypatch.setenv("BASTION_AWS_KMS_KEY_ID", "alias/bastion")
    monkeypatch.setenv("BASTION_AWS_REGION", "eu-central-1")
    monkeypatch.setenv("BASTION_AWS_ENDPOINT_URL", "https://kms.eu-central-1.amazonaws.com")
    provider = provider_for(Settings(data_dir=tmp_path))
    assert isinstance(provider, AwsKmsProvider)
    assert provider.key_id == "aws-kms:alias/bastion"
    provider.close()


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"kek_provider": "vault"}, "BASTION_VAULT_ADDR"),
        ({"kek_provider": "vault", "vault_addr": "https://v:8200"}, "BASTION_VAULT_TOKEN"),
        (
            {"kek_provider": "vault", "vault_addr": "https://v:8200", "vault_token_file": "/no"},
            "BASTION_VAULT_TOKEN_FILE=/no: no such file",
        ),
        ({"kek_provider": "aws-kms", "aws_region": "eu-west-1"}, "BASTION_AWS_KMS_KEY_ID"),
        ({"kek_provider": "aws-kms", "aws_kms_key_id": "alias/x"}, "BASTION_AWS_REGION"),
    ],
)
def test_incomplete_settings_name_the_fix(
    tmp_path: Path, overrides: dict[str, Any], needle: str
) -> None:
    """provider_for refuses incomplete settings with the setting to fix."""
    with pytest.raises(ValueError, match=needle):
        provider_for(Settings(data_dir=tmp_path, **overrides))


def test_unknown_provider_is_refused(tmp_path: Path) -> None:
    """kek_provider is a closed set."""
    with pytest.raises(ValueError, match="kek_provider"):
        Settings(data_dir=tmp_path, kek_provider="gcp-kms")


def test_complete_remote_setups_are_safe_without_a_local_kek(
    tmp_path: Path, token_file: Path
) -> None:
    """With vault or aws-kms chosen, the missing local KEK is not a reason."""
    assert unsafe_reasons(vault_settings(tmp_path)) == []
    assert (
        unsafe_reasons(vault_settings(tmp_path, vault_token=None, vault_token_file=token_file))
        == []
    )
    assert unsafe_reasons(vault_settings(tmp_path, vault_addr="http://127.0.0.1:8200")) == []
    kms = Settings(data_dir=tmp_path, kek_provider="aws-kms", aws_kms_key_id="alias/bastion")
    assert unsafe_reasons(kms) == []
    assert any("no key-encryption key" in r for r in unsafe_reasons(Settings(data_dir=tmp_path)))


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"vault_addr": ""}, "BASTION_VAULT_ADDR is not set"),
        ({"vault_addr": "http://10.1.2.3:8200"}, "Vault at 10.1.2.3 is plain HTTP"),
        ({"vault_addr": "http://vault.internal:8200"}, "plain HTTP"),
        ({"vault_addr": "vault.internal:8200"}, "must look like https://"),
        ({"vault_token": None}, "no Vault token"),
        ({"vault_token": None, "vault_token_file": "/nonexistent"}, "no such file"),
        ({"vault_token": "changeme"}, "BASTION_VAULT_TOKEN holds no token, or a placeholder"),
        ({"vault_token": " "}, "placeholder"),
        ({"vault_ca_file": "/nonexistent/ca.pem"}, "BASTION_VAULT_CA_FILE"),
    ],
)
def test_unsafe_vault_setups_are_named(
    tmp_path: Path, overrides: dict[str, Any], needle: str
) -> None:
    """Each incomplete or insecure Vault setup yields a reason naming the fix."""
    reasons = unsafe_reasons(vault_settings(tmp_path, **overrides))
    assert any(needle in r for r in reasons), reasons
    assert not any("no key-encryption key" in r or TOKEN in r for r in reasons)


def test_empty_token_file_is_unsafe(tmp_path: Path) -> None:
    """A token file that holds nothing is named (by setting, not content)."""
    empty = tmp_path / "token"
    empty.write_text("\n")
    reasons = unsafe_reasons(vault_settings(tmp_path, vault_token=None, vault_token_file=empty))
    assert reasons == ["BASTION_VAULT_TOKEN_FILE holds no token, or a placeholder"]


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({}, "BASTION_AWS_KMS_KEY_ID is not set"),
        ({"aws_kms_key_id": "  "}, "BASTION_AWS_KMS_KEY_ID is not set"),
        (
            {"aws_kms_key_id": "k", "aws_endpoint_url": "http://kms.internal"},
            "BASTION_AWS_ENDPOINT_URL is not https://",
        ),
    ],
)
def test_unsafe_aws_kms_setups_are_named(
    tmp_path: Path, overrides: dict[str, Any], needle: str
) -> None:
    """A KMS setup without a key id, or over plain HTTP off loopback, is unsafe."""
    settings = Settings(data_dir=tmp_path, kek_provider="aws-kms", **overrides)
    reasons = unsafe_reasons(settings)
    assert any(needle in r for r in reasons), reasons
    assert not any("no key-encryption key" in r for r in reasons)


@pytest.mark.parametrize(
    ("provider", "module", "extra"), [("vault", "hvac", "vault"), ("aws-kms", "boto3", "aws")]
)
def test_missing_extra_is_unsafe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str, module: str, extra: str
) -> None:
    """A chosen provider whose package is not installed is named with the pip command."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a)
    )
    settings = vault_settings(tmp_path, kek_provider=provider, aws_kms_key_id="k")
    assert f"pip install 'bastion-gateway[{extra}]'" in " ".join(unsafe_reasons(settings))


@pytest.fixture
def vault() -> Iterator[VaultTransitStandIn]:
    with VaultTransitStandIn.running(token=TOKEN) as server:
        yield server


def test_audit_sealer_uses_the_configured_provider(
    tmp_path: Path, engine: Engine, vault: VaultTransitStandIn
) -> None:
    """sealer_for seals audit content through Vault when BASTION_KEK_PROVIDER=vault."""
    settings = vault_settings(tmp_path, vault_addr=vault.base_url)
    sealer = sealer_for(settings, engine, lambda: datetime(2026, 11, 25, tzinfo=UTC))
    assert sealer is not None
    sealed = sealer.seal("t1", "ab" * 32, b'{"prompt":"hello"}')
    assert sealer.merge("t1", "ab" * 32, '{"id":"1"}', sealed) == '{"id":"1","prompt":"hello"}'
    assert [r.path for r in vault.requests] == ["/v1/transit/encrypt/bastion"]
    assert sealer_for(Settings(data_dir=tmp_path), engine) is None


def test_incomplete_remote_provider_never_means_clear_audit(tmp_path: Path, engine: Engine) -> None:
    """With vault or aws-kms chosen, bad settings stop the sealer instead of sealing nothing."""
    with pytest.raises(ValueError, match="BASTION_VAULT_ADDR"):
        sealer_for(vault_settings(tmp_path, vault_addr=""), engine)
    with pytest.raises(ValueError, match="BASTION_AWS_REGION"):
        sealer_for(Settings(kek_provider="aws-kms", aws_kms_key_id="alias/x"), engine)
