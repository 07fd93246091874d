"""Typed configuration from ``BASTION_*`` environment variables and a TOML file.

Precedence: init arguments > environment > config file (``BASTION_CONFIG_FILE``)
> defaults. :func:`unsafe_reasons` lists what makes a configuration unsafe for
production; ``bastion serve`` refuses to start on any of them unless ``--dev``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bastion.model_config import ModelConfig
from bastion.siem.config import SiemSinkConfig

__all__ = [
    "ModelConfig",
    "Settings",
    "decode_kek",
    "load_settings",
    "read_kek",
    "unsafe_reasons",
]

PLACEHOLDERS = frozenset(
    {"", "changeme", "change-me", "secret", "password", "test", "placeholder", "xxx", "todo"}
)


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the file named by ``BASTION_CONFIG_FILE``; a named file must exist."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = os.environ.get("BASTION_CONFIG_FILE")
        self._data: dict[str, Any] = {}
        if path:
            file = Path(path)
            if not file.is_file():
                raise ValueError(f"BASTION_CONFIG_FILE={path!s}: no such file")
            with file.open("rb") as fh:
                self._data = tomllib.load(fh)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    """Every setting Bastion reads. See docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="BASTION_", extra="forbid")

    data_dir: Path = Field(
        default=Path(".bastion"),
        description="Where `bastion init` puts the SQLite database and the key file.",
    )
    database_url: str = ""
    database_admin_url: str = Field(
        default="",
        description="PostgreSQL: the owner connection for migrations and cross-tenant "
        "maintenance (init, key rotation, backup, restore). Empty: database_url.",
    )
    database_region: str = Field(
        default="",
        max_length=64,
        description="Where the database (state, audit log, documents and their vectors) "
        "is kept, e.g. eu-central-1: weighed by the posture check's residency item.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    kek: SecretStr | None = Field(
        default=None, description="Key-encryption key: 32 bytes, base64 (or use kek_file)."
    )
    kek_file: Path | None = None
    kek_provider: Literal["local", "vault", "aws-kms"] = Field(
        default="local",
        description="Who wraps data keys: local (kek / kek_file), vault (HashiCorp Vault "
        "transit, extra [vault]) or aws-kms (AWS KMS, extra [aws]).",
    )
    vault_addr: str = Field(default="", description="Vault address, e.g. https://vault:8200.")
    vault_token: SecretStr | None = Field(
        default=None, description="Vault token (prefer vault_token_file)."
    )
    vault_token_file: Path | None = Field(
        default=None, description="File holding the Vault token (e.g. a Vault Agent sink)."
    )
    vault_transit_mount: str = Field(default="transit", description="Transit engine mount.")
    vault_transit_key: str = Field(default="bastion", description="Transit key name.")
    vault_namespace: str | None = Field(
        default=None, description="Vault Enterprise namespace (X-Vault-Namespace)."
    )
    vault_ca_file: Path | None = Field(
        default=None, description="CA bundle for Vault's certificate (default: system CAs)."
    )
    aws_kms_key_id: str = Field(
        default="", description="AWS KMS key id, key ARN or alias ARN that wraps data keys."
    )
    aws_region: str | None = Field(
        default=None, description="AWS region of the KMS key (default: the AWS chain's)."
    )
    aws_endpoint_url: str | None = Field(
        default=None, description="KMS endpoint override (a VPC endpoint, or a test stand-in)."
    )
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_allow_tls12: bool = False
    hsts_max_age: int = Field(default=63072000, ge=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    default_policy: str = "default"
    policies_dir: Path | None = Field(
        default=None, description="Folder of <name>.toml policy files."
    )
    models: list[ModelConfig] = Field(default_factory=list)
    auth_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How long a verified key is trusted without a database lookup.",
    )
    audit_batch_max: int = Field(default=256, ge=1)
    data_key_refresh_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How often a running process re-reads which data key is current; "
        "after `bastion keys rotate --dek`, every process writes under the new key "
        "within this time.",
    )
    models_refresh_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How often a running gateway checks the model registry and the sealed "
        "upstream keys (a model's api_key_secret) for changes, and applies them: after "
        "`bastion models rollback`, `bastion secrets set` or an incident's key rotation "
        "in another process, every gateway serves the change within this time (0: only "
        "at start, and key rotations by playbooks in this process).",
    )
    incident_model_rollback: bool = Field(
        default=False,
        description="Let the harmful_output playbook roll the interaction's model back "
        "one version in the registry. Off by default: a model alias serves every "
        "tenant, so one tenant's incident would change it for all.",
    )
    console_break_glass: bool = Field(
        default=False,
        description="Offer the console's break-glass sign-in (a local owner or admin "
        "password set with `bastion console break-glass`) for when the identity provider "
        "is down. Off by default.",
    )
    model_probe_seconds: float = Field(
        default=0.0,
        ge=0,
        description="How often every served model gets its behaviour probes (answer "
        "format, refusal of a known injection, no canary leak, latency band); a check "
        "that starts failing raises an alert. 0: never (the probes cost tokens).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    public_url: str = Field(
        default="",
        description="The gateway's external base URL, e.g. https://bastion.example.com: "
        "SSO redirect URIs, SAML metadata and cookie scope are built from it.",
    )
    data_sources_sqlite_dir: Path | None = Field(
        default=None,
        description="The only directory SQLite data sources may be files in (unset: no "
        "SQLite sources; never the gateway's own data directory).",
    )
    data_sources_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="The database hosts PostgreSQL and MySQL data sources may connect to: "
        "hostnames (exact, or *.example.internal), IP addresses and networks "
        "(10.20.0.0/16); a JSON list or comma-separated. Empty: no network sources.",
    )
    actions_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="The hosts agent actions may call (call_webhook targets and the "
        "approvers' notification URL): hostnames (exact, or *.example.internal), IP "
        "addresses and networks; a JSON list or comma-separated. Empty: no webhooks.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="The SMTP relay the send_email action uses (unset: no email).",
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="The SMTP relay's port.")
    smtp_starttls: bool = Field(
        default=True,
        description="Require STARTTLS to the relay (turn off only for a loopback relay).",
    )
    smtp_sender: str = Field(
        default="bastion@localhost",
        max_length=254,
        description="The From address of email the send_email action sends.",
    )
    documents_embeddings: Literal["auto", "minilm", "off"] = Field(
        default="auto",
        description="Document retrieval by meaning: auto (the local MiniLM model when "
        "the embeddings extra is installed, else words only), minilm (required: refuse "
        "to start without it) or off (words only: BM25).",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counters live: memory:// (one process) or "
        "redis://host:port/db (shared by every replica).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for GET /metrics (Prometheus); unset: the route is 404.",
    )
    detection: bool = Field(
        default=True,
        description="Watch the audit chain for anomalies (per-tenant [detection] policy); "
        "on PostgreSQL this needs database_admin_url (it reads every tenant).",
    )
    siem_sinks: list[SiemSinkConfig] = Field(
        default_factory=list,
        description="Where audit records are forwarded, continuously and at least once: "
        "syslog over TCP/TLS or NATS JetStream (see docs/detection-response.md).",
    )
    stream_workers: Literal["gateway", "separate"] = Field(
        default="gateway",
        description="Where detection and SIEM forwarding run: in the gateway process, or "
        "in a separate `bastion monitor` process (their CPU then leaves the request path).",
    )
    stream_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often detection and SIEM forwarding look for records written "
        "by other gateway processes (this process's own records wake them at once).",
    )

    access_log: bool = False
    sqlite_synchronous: Literal["full", "normal"] = Field(
        default="full",
        description="SQLite commit durability: full fsyncs every commit (audit receipts "
        "survive power loss); normal survives process crashes only, and is faster.",
    )

    @model_validator(mode="after")
    def _defaults_from_data_dir(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'bastion.db'}"
        if self.kek is None and self.kek_file is None and (self.data_dir / "kek").is_file():
            self.kek_file = self.data_dir / "kek"
        return self

    @property
    def default_kek_file(self) -> Path:
        return self.kek_file or self.data_dir / "kek"

    @field_validator("data_sources_allowed_hosts", "actions_allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        """A JSON list or a comma-separated string (the environment); checked entries."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except ValueError:
                    raise ValueError("must be a JSON list or comma-separated") from None
            else:
                value = [part.strip() for part in text.split(",") if part.strip()]
        if isinstance(value, list):
            from bastion.datasources._hosts import HostPolicy

            HostPolicy([v for v in value if isinstance(v, str)])  # ValueError names the entry
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    def model(self, name: str) -> ModelConfig | None:
        for model in self.models:
            if model.name == name:
                return model
        return None


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, the config file and ``overrides``."""
    return Settings(**overrides)


def read_kek(settings: Settings) -> bytes | None:
    """The key-encryption key as 32 raw bytes, or None if none is configured.

    Raises ValueError (naming the setting, never the value) if it is malformed.
    """
    if settings.kek is not None:
        raw, source = settings.kek.get_secret_value(), "BASTION_KEK"
    elif settings.kek_file is not None:
        if not settings.kek_file.is_file():
            raise ValueError(f"BASTION_KEK_FILE={settings.kek_file}: no such file")
        raw, source = settings.kek_file.read_text().strip(), "BASTION_KEK_FILE"
    else:
        return None
    return decode_kek(raw, source)


def decode_kek(raw: str, source: str) -> bytes:
    """32 key bytes from base64 text; errors name ``source``, never the value."""
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{source} is not valid base64") from None
    if len(key) != 32:
        raise ValueError(f"{source} must decode to 32 bytes (got {len(key)})")
    return key


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unsafe_reasons(settings: Settings) -> list[str]:
    """Reasons this configuration must not serve production traffic, each with a fix."""
    reasons: list[str] = []
    if settings.kek_provider == "vault":
        reasons += _vault_reasons(settings)
    elif settings.kek_provider == "aws-kms":
        reasons += _aws_kms_reasons(settings)
    else:
        reasons += _local_kek_reasons(settings)
    if (settings.tls_cert_file is None) != (settings.tls_key_file is None):
        reasons.append("set both BASTION_TLS_CERT_FILE and BASTION_TLS_KEY_FILE, or neither")
    if settings.tls_cert_file is None and not _is_loopback(settings.host):
        reasons.append(
            f"TLS is off on non-loopback address {settings.host}: set "
            "BASTION_TLS_CERT_FILE and BASTION_TLS_KEY_FILE, or bind 127.0.0.1 behind "
            "a TLS-terminating proxy"
        )
    for model in settings.models:
        secret = model.api_key()
        if model.api_key_env and secret is not None and secret.strip().lower() in PLACEHOLDERS:
            reasons.append(f"model {model.name}: {model.api_key_env} holds a placeholder value")
        if model.base_url.startswith("http://") and not _url_is_loopback(model.base_url):
            reasons.append(f"model {model.name}: upstream {model.base_url} is not HTTPS")
    token = (
        settings.metrics_token.get_secret_value() if settings.metrics_token is not None else None
    )
    if token is not None and (len(token.strip()) < 16 or token.strip().lower() in PLACEHOLDERS):
        reasons.append("BASTION_METRICS_TOKEN is a placeholder or shorter than 16 characters")
    return reasons


def _local_kek_reasons(settings: Settings) -> list[str]:
    try:
        key = read_kek(settings)
    except ValueError as exc:
        return [f"{exc}; generate one with `bastion init`"]
    if key is None:
        return [
            "no key-encryption key: set BASTION_KEK_FILE (or BASTION_KEK); "
            "`bastion init` writes one"
        ]
    if len(set(key)) < 8:
        return ["the key-encryption key is a placeholder (too few distinct bytes)"]
    return []


def _vault_reasons(settings: Settings) -> list[str]:
    """Vault transit: an address over TLS (or loopback), a token, the hvac package."""
    from urllib.parse import urlsplit

    reasons = _missing_extra("hvac", "vault")
    address = urlsplit(settings.vault_addr)
    if not settings.vault_addr:
        reasons.append("BASTION_KEK_PROVIDER=vault but BASTION_VAULT_ADDR is not set")
    elif address.scheme not in ("https", "http") or not address.hostname:
        reasons.append("BASTION_VAULT_ADDR must look like https://vault.example.com:8200")
    elif address.scheme == "http" and not _is_loopback(address.hostname):
        reasons.append(
            f"Vault at {address.hostname} is plain HTTP: the token and wrapped keys would "
            "cross the network in clear; use https:// in BASTION_VAULT_ADDR"
        )
    token: str | None = None
    source = "BASTION_VAULT_TOKEN"
    if settings.vault_token is not None:
        token = settings.vault_token.get_secret_value()
    elif settings.vault_token_file is None:
        reasons.append("no Vault token: set BASTION_VAULT_TOKEN_FILE (or BASTION_VAULT_TOKEN)")
    elif not settings.vault_token_file.is_file():
        reasons.append(f"BASTION_VAULT_TOKEN_FILE={settings.vault_token_file}: no such file")
    else:
        source = "BASTION_VAULT_TOKEN_FILE"
        token = settings.vault_token_file.read_text()
    if token is not None and token.strip().lower() in PLACEHOLDERS:
        reasons.append(f"{source} holds no token, or a placeholder")
    if settings.vault_ca_file is not None and not settings.vault_ca_file.is_file():
        reasons.append(f"BASTION_VAULT_CA_FILE={settings.vault_ca_file}: no such file")
    return reasons


def _aws_kms_reasons(settings: Settings) -> list[str]:
    """AWS KMS: a key id, TLS to any non-loopback endpoint, the boto3 package."""
    reasons = _missing_extra("boto3", "aws")
    if not settings.aws_kms_key_id.strip():
        reasons.append(
            "BASTION_KEK_PROVIDER=aws-kms but BASTION_AWS_KMS_KEY_ID is not set "
            "(a key id, key ARN or alias ARN)"
        )
    endpoint = settings.aws_endpoint_url
    if endpoint and not endpoint.startswith("https://") and not _url_is_loopback(endpoint):
        reasons.append("BASTION_AWS_ENDPOINT_URL is not https:// on a non-loopback address")
    return reasons


def _missing_extra(module: str, extra: str) -> list[str]:
    import importlib.util

    if importlib.util.find_spec(module) is not None:
        return []
    return [
        f"BASTION_KEK_PROVIDER needs the {module} package: pip install 'bastion-gateway[{extra}]'"
    ]


def _url_is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return _is_loopback(urlsplit(url).hostname or "")
