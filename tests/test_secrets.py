"""Sealed secrets: upstream keys stored encrypted, never shown, bound to their row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.secrets import DEPLOYMENT, SecretError, SecretStore
from bastion.secrets.upstream import open_model_keys
from bastion.settings import ModelConfig
from bastion.store.schema import SealedSecret
from bastion.store.tenancy import maintenance
from tests.cli_helpers import bastion

KEK = bytes(range(7, 39))
VALUE = "sk-proj-MARKERabcdefghijklmnopqrstuvwxyz0123456789"


def now() -> datetime:
    return datetime.now(UTC)


def store(engine: Engine) -> SecretStore:
    return SecretStore(engine, Keyring(engine, LocalKeyProvider(KEK), now), now)


def test_round_trip_replace_list_delete(engine: Engine) -> None:
    secrets = store(engine)
    assert secrets.put("openai-prod", VALUE, kind="upstream_api_key") is True
    assert secrets.get("openai-prod") == VALUE
    assert store(engine).get("openai-prod") == VALUE  # another process
    assert secrets.put("openai-prod", VALUE + "2", kind="upstream_api_key") is False
    assert secrets.get("openai-prod") == VALUE + "2"
    listed = secrets.list()
    assert [(i.name, i.kind) for i in listed] == [("openai-prod", "upstream_api_key")]
    assert VALUE not in repr(listed) + repr(secrets)
    assert secrets.get("nope") is None
    assert secrets.delete("openai-prod") is True
    assert secrets.delete("openai-prod") is False
    assert secrets.get("openai-prod") is None


def test_values_are_sealed_and_bound_to_their_row(engine: Engine) -> None:
    secrets = store(engine)
    secrets.put("a", VALUE, kind="upstream_api_key")
    secrets.put("b", "sk-other-value-0000000000", kind="upstream_api_key")
    with maintenance(engine).connect() as conn:
        blobs = dict(conn.execute(select(SealedSecret.name, SealedSecret.sealed)).all())
    assert VALUE.encode() not in blobs["a"]
    with maintenance(engine).begin() as conn:  # an attacker with write access swaps the blobs
        conn.execute(update(SealedSecret).where(SealedSecret.name == "b").values(sealed=blobs["a"]))
    with pytest.raises(SecretError) as caught:
        secrets.get("b")
    assert VALUE not in str(caught.value)
    assert secrets.get("a") == VALUE


def test_secrets_are_per_tenant(engine: Engine) -> None:
    secrets = store(engine)
    secrets.put("k", VALUE, kind="upstream_api_key", tenant_id="tenant-a")
    assert secrets.get("k", tenant_id="tenant-b") is None
    assert secrets.get("k", tenant_id=DEPLOYMENT) is None  # its own scope
    assert secrets.list(tenant_id="tenant-b") == []
    assert secrets.get("k", tenant_id="tenant-a") == VALUE


@pytest.mark.parametrize(
    ("name", "value", "kind", "message"),
    [
        ("bad name", VALUE, "upstream_api_key", "secret name"),
        ("", VALUE, "upstream_api_key", "secret name"),
        ("ok", "   ", "upstream_api_key", "not blank"),
        ("ok", "x" * 20_000, "upstream_api_key", "16384 bytes"),
        ("ok", VALUE, "password", "unknown secret kind"),
    ],
)
def test_bad_input_is_refused_without_echoing_the_value(
    engine: Engine, name: str, value: str, kind: str, message: str
) -> None:
    with pytest.raises(SecretError, match=message) as caught:
        store(engine).put(name, value, kind=kind)
    assert VALUE not in str(caught.value)


def test_models_open_their_keys_and_fail_closed(engine: Engine) -> None:
    model = ModelConfig(name="gpt", base_url="https://api.example", api_key_secret="openai")
    plain = ModelConfig(name="local", base_url="http://127.0.0.1:1")
    secrets = store(engine)
    with pytest.raises(SecretError, match="no secret named 'openai'"):
        open_model_keys([model], secrets)
    with pytest.raises(SecretError, match="key-encryption key"):
        open_model_keys([model], None)
    secrets.put("openai", VALUE, kind="upstream_api_key")
    opened = open_model_keys([model, plain], secrets)
    assert opened[0].api_key() == VALUE and opened[1] is plain
    assert VALUE not in repr(opened)
    assert model.api_key() is None  # the configured model itself never holds it
    with pytest.raises(ValueError, match="not both"):
        ModelConfig(name="x", base_url="https://a", api_key_env="E", api_key_secret="s")


def test_cli_stores_from_stdin_and_never_shows_the_value(tmp_path: Path) -> None:
    assert bastion("init", data_dir=tmp_path).returncode == 0
    stored = bastion("secrets", "set", "openai-prod", data_dir=tmp_path, stdin=VALUE + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "stored (sealed)" in stored.stdout
    listed = bastion("secrets", "list", "--json", data_dir=tmp_path)
    assert listed.returncode == 0 and '"name": "openai-prod"' in listed.stdout
    for out in (stored, listed):
        assert VALUE not in out.stdout + out.stderr
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("bastion.db*"))
    assert b"MARKER" not in raw
    refused = bastion("secrets", "set", "bad name", data_dir=tmp_path, stdin=VALUE)
    assert refused.returncode == 2 and VALUE not in refused.stderr
    assert bastion("secrets", "delete", "openai-prod", data_dir=tmp_path).returncode == 0
    missing = bastion("secrets", "delete", "openai-prod", data_dir=tmp_path)
    assert missing.returncode == 2 and "no secret named" in missing.stderr


def test_rotated_keys_are_reopened_and_a_broken_secret_keeps_the_old_key(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    from bastion.gateway.model_table import ModelTable
    from bastion.governance.registry import ModelRegistry

    ticks = iter(range(1, 100))

    def clock() -> datetime:  # every write gets a later updated_at
        return datetime(2026, 1, 1, 0, 0, next(ticks), tzinfo=UTC)

    secrets = SecretStore(engine, Keyring(engine, LocalKeyProvider(KEK), clock), clock)
    model = ModelConfig(name="gpt", base_url="https://api.example", api_key_secret="openai")
    plain = ModelConfig(name="local", base_url="http://127.0.0.1:1")
    secrets.put("openai", VALUE, kind="upstream_api_key")
    served: list[list[ModelConfig]] = []
    table = ModelTable(
        [model, plain], ModelRegistry(engine, clock), secrets, served.append, interval=5
    )
    assert table.secret_names == ("openai",)
    assert not table.check() and not table.check()  # the first look, then nothing changed
    secrets.put("openai", VALUE + "-2", kind="upstream_api_key")
    assert table.check()
    assert [m.api_key() for m in served[-1]] == [VALUE + "-2", None]
    assert not table.check()
    table.reload(("openai",))  # a playbook in this process: at once, and counted as seen
    assert len(served) == 2 and not table.check()
    secrets.delete("openai")
    with pytest.raises(SecretError, match="no secret named 'openai'"):
        table.check()
    assert len(served) == 2  # the gateway keeps serving the key it has
    assert not table.check()  # and says so once per change, not on every look
    assert VALUE not in repr(table) and VALUE not in caplog.text
