"""Settings validate at start and name what makes a setup unsafe."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from bastion.settings import ModelConfig, Settings, read_kek, unsafe_reasons

GOOD_KEK = base64.b64encode(bytes(range(32))).decode()


def test_safe_setup_has_no_reasons(tmp_path: Path) -> None:
    """Loopback, a real key and an HTTPS upstream are safe."""
    settings = Settings(
        data_dir=tmp_path,
        kek=GOOD_KEK,
        models=[ModelConfig(name="m", base_url="https://api.example.com/v1")],
    )
    assert unsafe_reasons(settings) == []


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({}, "no key-encryption key"),
        ({"kek": base64.b64encode(b"\0" * 32).decode()}, "placeholder"),
        ({"kek": "not base64!"}, "not valid base64"),
        ({"kek": base64.b64encode(b"short").decode()}, "32 bytes"),
        ({"kek": GOOD_KEK, "host": "0.0.0.0"}, "TLS is off"),
        ({"kek": GOOD_KEK, "tls_cert_file": "/x.pem"}, "both"),
        (
            {"kek": GOOD_KEK, "models": [{"name": "m", "base_url": "http://10.1.2.3/v1"}]},
            "not HTTPS",
        ),
    ],
)
def test_unsafe_setups_are_named(tmp_path: Path, overrides: dict[str, object], needle: str) -> None:
    """Each unsafe setup yields a reason that says what to fix."""
    settings = Settings(data_dir=tmp_path, **overrides)  # type: ignore[arg-type]
    reasons = unsafe_reasons(settings)
    assert any(needle in r for r in reasons), reasons


def test_placeholder_upstream_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upstream key variable holding a placeholder is unsafe."""
    monkeypatch.setenv("UP_KEY", "changeme")
    settings = Settings(
        data_dir=tmp_path,
        kek=GOOD_KEK,
        models=[ModelConfig(name="m", base_url="https://x.test/v1", api_key_env="UP_KEY")],
    )
    assert any("placeholder" in r for r in unsafe_reasons(settings))


def test_reasons_never_contain_the_key(tmp_path: Path) -> None:
    """A malformed key is reported by name, not by value."""
    secret = "c2VjcmV0LXNob3J0"  # base64 of a short value
    reasons = unsafe_reasons(Settings(data_dir=tmp_path, kek=secret))
    assert reasons and all(secret not in r for r in reasons)
    assert secret not in repr(Settings(data_dir=tmp_path, kek=secret))


def test_env_and_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment variables override the TOML file, which overrides defaults."""
    config = tmp_path / "bastion.toml"
    config.write_text(
        'port = 9001\nhost = "127.0.0.2"\n[[models]]\nname = "m"\nbase_url = "https://x.test/v1"\n'
    )
    monkeypatch.setenv("BASTION_CONFIG_FILE", str(config))
    monkeypatch.setenv("BASTION_PORT", "9002")
    settings = Settings(data_dir=tmp_path)
    assert settings.port == 9002
    assert settings.host == "127.0.0.2"
    assert settings.model("m") is not None


def test_missing_config_file_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A named config file that does not exist is an error, not an empty config."""
    monkeypatch.setenv("BASTION_CONFIG_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(ValueError, match="no such file"):
        Settings(data_dir=tmp_path)


def test_unknown_setting_and_bad_database_url(tmp_path: Path) -> None:
    """Typos and unsupported databases are refused at start."""
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, databse_url="x")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="database_url"):
        Settings(data_dir=tmp_path, database_url="mysql://x")


def test_kek_file_found_in_data_dir(tmp_path: Path) -> None:
    """`bastion init`'s key file in the data dir is picked up without configuration."""
    (tmp_path / "kek").write_text(GOOD_KEK + "\n")
    settings = Settings(data_dir=tmp_path)
    assert read_kek(settings) == bytes(range(32))
    assert settings.database_url == f"sqlite:///{tmp_path / 'bastion.db'}"
