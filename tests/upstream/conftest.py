"""Fixtures for the upstream adapters: a scripted upstream on loopback and adapters for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from bastion.settings import ModelConfig
from bastion.testing.scripted_upstream import ScriptedUpstream
from bastion.upstream import AnthropicUpstream, OpenAIUpstream

UPSTREAM_KEY = "sk-upstream-test-key-0123456789"
KEY_ENV = "BASTION_TEST_UPSTREAM_KEY"


@pytest.fixture
def scripted() -> Iterator[ScriptedUpstream]:
    """A scripted upstream that insists on the forwarded key."""
    with ScriptedUpstream.running(require_key=UPSTREAM_KEY) as upstream:
        yield upstream


@pytest.fixture
def upstream_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, UPSTREAM_KEY)
    return UPSTREAM_KEY


@pytest.fixture
def make_config(upstream_key: str) -> Callable[..., ModelConfig]:
    """Builds a ModelConfig whose key comes from the test key variable."""

    def build(base_url: str, **fields: Any) -> ModelConfig:
        fields.setdefault("name", "m")
        return ModelConfig(base_url=base_url, api_key_env=KEY_ENV, **fields)

    return build


@pytest.fixture
async def openai_upstream(
    scripted: ScriptedUpstream, upstream_key: str
) -> AsyncIterator[OpenAIUpstream]:
    config = ModelConfig(
        name="gpt-test",
        base_url=scripted.openai_base_url,
        upstream_model="scripted-gpt",
        api_key_env=KEY_ENV,
    )
    adapter = OpenAIUpstream(config)
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def anthropic_upstream(
    scripted: ScriptedUpstream, upstream_key: str
) -> AsyncIterator[AnthropicUpstream]:
    config = ModelConfig(
        name="claude-test",
        provider="anthropic",
        base_url=scripted.base_url,
        upstream_model="scripted-claude",
        api_key_env=KEY_ENV,
    )
    adapter = AnthropicUpstream(config)
    yield adapter
    await adapter.aclose()
