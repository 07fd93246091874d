"""Upstream adapters: Bastion's outbound side to OpenAI-compatible and Anthropic models."""

from bastion.upstream.anthropic import AnthropicUpstream
from bastion.upstream.base import (
    ChatMessage,
    ChatRequest,
    ChatResult,
    Choice,
    StreamDelta,
    Upstream,
    Usage,
)
from bastion.upstream.http import UpstreamStatusError
from bastion.upstream.openai_compat import OpenAIUpstream
from bastion.upstream.pinning import spki_sha256_of_cert
from bastion.upstream.registry import UpstreamPool, make_upstream

__all__ = [
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
