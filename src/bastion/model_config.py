"""One upstream model as configured (``[[models]]``, ``BASTION_MODELS``, or a version in
the model registry): where it is, how Bastion authenticates to it, where it runs."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

__all__ = ["ModelConfig"]


class ModelConfig(BaseModel):
    """One model clients may ask for, and where Bastion sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Name clients use in the `model` field.")
    provider: Literal["openai", "anthropic"] = "openai"
    base_url: str = Field(description="Upstream base URL, e.g. https://api.openai.com/v1")
    upstream_model: str | None = Field(default=None, description="Model id sent upstream.")
    api_key_env: str | None = Field(
        default=None, description="Environment variable holding the upstream API key."
    )
    api_key_secret: str | None = Field(
        default=None,
        description="Name of a sealed secret holding the upstream API key "
        "(`bastion secrets set NAME`); the key is stored encrypted, never in config.",
    )
    region: str = Field(
        default="",
        max_length=64,
        description="Where the upstream processes requests (e.g. eu-west-1, us, on-prem): "
        "kept in the model registry, checked by residency rules and the posture check.",
    )
    probe_latency_ms: tuple[float, float] = Field(
        default=(0.0, 30000.0),
        description="The band each behaviour probe's answer must arrive in (ms), when "
        "BASTION_MODEL_PROBE_SECONDS is set; outside it the model's latency drifted.",
    )
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=120.0, gt=0)
    spki_sha256: tuple[str, ...] = Field(
        default=(),
        description="Pinned SHA-256 hashes (base64) of the upstream's public key.",
    )
    ca_file: str | None = Field(default=None, description="Extra CA bundle for the upstream.")
    auth_style: Literal["bearer", "azure", "anthropic"] | None = Field(
        default=None,
        description="How the key is sent: Authorization bearer (OpenAI-compatible), "
        "api-key header (Azure OpenAI) or x-api-key (Anthropic). Default by provider.",
    )
    query: dict[str, str] = Field(
        default_factory=dict, description="Extra query parameters, e.g. Azure api-version."
    )
    headers: dict[str, str] = Field(default_factory=dict, repr=False)

    @property
    def target_model(self) -> str:
        return self.upstream_model or self.name

    _sealed_key: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_key_source(self) -> ModelConfig:
        if self.api_key_env and self.api_key_secret:
            raise ValueError("set api_key_env or api_key_secret, not both")
        low, high = self.probe_latency_ms
        if not 0 <= low <= high:
            raise ValueError("probe_latency_ms must be [low, high] with 0 <= low <= high")
        return self

    def with_sealed_key(self, value: str) -> ModelConfig:
        """A copy that sends ``value`` (opened from ``api_key_secret``) upstream."""
        copy = self.model_copy()
        copy._sealed_key = value
        return copy

    def api_key(self) -> str | None:
        """The upstream key: from the environment at call time, or the opened secret."""
        if self.api_key_secret:
            return self._sealed_key
        return os.environ.get(self.api_key_env) if self.api_key_env else None
