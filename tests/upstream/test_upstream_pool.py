"""UpstreamPool builds one adapter per model and closes them all."""

from __future__ import annotations

import bastion.upstream
from bastion.settings import ModelConfig
from bastion.testing.scripted_upstream import ScriptedUpstream
from bastion.upstream import (
    AnthropicUpstream,
    ChatMessage,
    ChatRequest,
    OpenAIUpstream,
    UpstreamPool,
)


def test_public_names_are_pinned() -> None:
    """The package exports exactly this sorted list."""
    assert bastion.upstream.__all__ == sorted(bastion.upstream.__all__)
    assert bastion.upstream.__all__ == [
        "AnthropicUpstream",
        "ChatMessage",
        "ChatRequest",
        "ChatResult",
        "Choice",
        "OpenAIUpstream",
        "StreamDelta",
        "Upstream",
        "UpstreamPool",
        "UpstreamStatusError",
        "Usage",
        "make_upstream",
        "spki_sha256_of_cert",
    ]


async def test_factory_and_cache() -> None:
    """get() picks the adapter by provider and returns the same one per model."""
    pool = UpstreamPool()
    gpt = ModelConfig(name="gpt", base_url="http://127.0.0.1:1/v1")
    claude = ModelConfig(name="claude", provider="anthropic", base_url="http://127.0.0.1:1")
    try:
        assert isinstance(pool.get(gpt), OpenAIUpstream)
        assert isinstance(pool.get(claude), AnthropicUpstream)
        assert pool.get(gpt) is pool.get(ModelConfig(name="gpt", base_url="http://127.0.0.1:1/v1"))
        changed = ModelConfig(name="gpt", base_url="http://127.0.0.1:2/v1")
        assert pool.get(changed) is not pool.get(gpt)
        assert set(pool.models) == {"gpt", "claude"}
    finally:
        await pool.aclose()


async def test_aclose_closes_used_sessions() -> None:
    """Adapters that opened connections are closed by the pool (no unclosed warnings)."""
    pool = UpstreamPool()
    with ScriptedUpstream.running() as scripted:
        config = ModelConfig(name="gpt", base_url=scripted.openai_base_url)
        upstream = pool.get(config)
        request = ChatRequest(model="gpt", messages=[ChatMessage("user", "ECHO:x")])
        assert (await upstream.complete(request)).choices[0].content == "x"
        await pool.aclose()
    assert pool.models == {}
