"""Provider-neutral chat types shared by the routes and the upstream adapters.

The gateway speaks OpenAI's chat shape internally. Client routes (OpenAI, Anthropic)
translate into :class:`ChatRequest`; adapters translate it to their provider and
back into :class:`ChatResult` or a stream of :class:`StreamDelta`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "ChatResult",
    "Choice",
    "StreamDelta",
    "Upstream",
    "Usage",
    "coalesce",
]


@dataclass(slots=True)
class ChatMessage:
    role: str  # system | user | assistant | tool
    content: str
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class ChatRequest:
    """A request ready for an upstream: ``model`` is the *upstream* model id."""

    model: str
    messages: list[ChatMessage]
    stream: bool = False
    # Sampling parameters forwarded as given: temperature, top_p, n, stop (list),
    # max_tokens, frequency_penalty, presence_penalty, seed, user, ...
    params: dict[str, Any] = field(default_factory=dict)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class Choice:
    index: int
    content: str
    finish_reason: str | None = "stop"
    tool_calls: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class ChatResult:
    model: str
    choices: list[Choice]
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class StreamDelta:
    """One piece of a streamed answer for choice ``index``.

    ``text`` is new content; ``finish_reason`` is set once per choice at its end;
    ``usage`` arrives (if at all) in a final delta with empty text.
    """

    index: int = 0
    text: str = ""
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    usage: Usage | None = None


def coalesce(deltas: list[StreamDelta]) -> list[StreamDelta]:
    """Merge consecutive text-only deltas of the same choice, keeping order.

    A delta carrying a finish reason, tool calls or usage closes the run it ends.
    """
    out: list[StreamDelta] = []
    for delta in deltas:
        last = out[-1] if out else None
        if (
            last is not None
            and last.index == delta.index
            and last.finish_reason is None
            and last.tool_calls is None
            and last.usage is None
        ):
            last.text += delta.text
            last.finish_reason = delta.finish_reason
            last.tool_calls = delta.tool_calls
            last.usage = delta.usage
        else:
            out.append(
                StreamDelta(
                    delta.index, delta.text, delta.finish_reason, delta.tool_calls, delta.usage
                )
            )
    return out


class Upstream(Protocol):
    """An adapter to one provider endpoint. Raises ``UpstreamError``/``UpstreamTimeout``."""

    async def complete(self, request: ChatRequest) -> ChatResult: ...

    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamDelta, None]: ...

    async def aclose(self) -> None: ...
