"""Adapter for OpenAI-compatible chat completions (OpenAI, Azure OpenAI, vLLM, Ollama...).

POSTs ``{base_url}/chat/completions`` with ``model`` set to the configured target
model and every entry of ``ChatRequest.params`` forwarded as given (``stream`` and
``stream_options`` are controlled by ``ChatRequest.stream``). Azure: set
``auth_style="azure"`` and ``query={"api-version": ...}`` on the model.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import orjson

from bastion.errors import UpstreamError
from bastion.settings import ModelConfig
from bastion.upstream.base import (
    ChatMessage,
    ChatRequest,
    ChatResult,
    Choice,
    StreamDelta,
    Usage,
    coalesce,
)
from bastion.upstream.http import (
    UpstreamHTTP,
    invalid_response,
    loads,
    stream_error,
)

__all__ = ["OpenAIStreamAssembler", "OpenAIUpstream", "decode_result", "encode_request"]

_NOT_PARAMS = frozenset({"model", "messages", "stream", "tools", "tool_choice"})


def _message(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name is not None:
        out["name"] = message.name
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        out["tool_calls"] = message.tool_calls
        if not message.content:
            out["content"] = None
    return out


def encode_request(request: ChatRequest, model: str, *, stream: bool) -> bytes:
    """The JSON body for ``request`` sent as ``model``, streaming or not."""
    body: dict[str, Any] = {"model": model, "messages": [_message(m) for m in request.messages]}
    for key, value in request.params.items():
        if key not in _NOT_PARAMS:
            body[key] = value
    if request.tools:
        body["tools"] = request.tools
    if request.tool_choice is not None:
        body["tool_choice"] = request.tool_choice
    if stream:
        body["stream"] = True
    else:
        body.pop("stream_options", None)  # only valid together with stream
    return orjson.dumps(body)


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))


def decode_result(payload: Any, model: str) -> ChatResult:
    """A ChatResult from a chat.completion object (raises on a wrong shape)."""
    try:
        choices = [
            Choice(
                index=int(raw.get("index", position)),
                content=raw["message"].get("content") or "",
                finish_reason=raw.get("finish_reason"),
                tool_calls=raw["message"].get("tool_calls") or None,
            )
            for position, raw in enumerate(payload["choices"])
        ]
        choices.sort(key=lambda choice: choice.index)
        return ChatResult(
            model=str(payload.get("model") or model),
            choices=choices,
            usage=_usage(payload.get("usage")),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise invalid_response() from None


class OpenAIStreamAssembler:
    """Turns chat.completion.chunk objects into StreamDelta, assembling tool calls.

    Tool-call fragments are accumulated per choice and tool index and emitted whole
    on the delta that carries the choice's ``finish_reason``; usage is held back and
    emitted once by :meth:`finish` (servers may repeat it on every chunk).
    """

    __slots__ = ("_finished", "_tools", "_usage")

    def __init__(self) -> None:
        self._tools: dict[int, dict[int, dict[str, Any]]] = {}
        self._finished: set[int] = set()
        self._usage: Usage | None = None

    def feed(self, chunk: dict[str, Any]) -> list[StreamDelta]:
        """Deltas for one decoded chunk."""
        out: list[StreamDelta] = []
        for raw in chunk.get("choices") or ():
            index = int(raw.get("index") or 0)
            delta = raw.get("delta") or {}
            text = delta.get("content") or ""
            if delta.get("tool_calls"):
                self._add_tools(index, delta["tool_calls"])
            finish = raw.get("finish_reason")
            if finish:
                self._finished.add(index)
                out.append(StreamDelta(index, text, finish, self._take_tools(index)))
            elif text:
                out.append(StreamDelta(index, text))
        if chunk.get("usage"):
            self._usage = _usage(chunk["usage"])
        return out

    def finish(self) -> list[StreamDelta]:
        """Deltas at end of stream: unfinished tool calls, then usage if any was sent."""
        out = [
            StreamDelta(index, "", "tool_calls", self._take_tools(index))
            for index in sorted(self._tools)
        ]
        if self._usage is not None:
            out.append(StreamDelta(usage=self._usage))
        return out

    @property
    def finished_any(self) -> bool:
        return bool(self._finished)

    def _add_tools(self, index: int, fragments: list[dict[str, Any]]) -> None:
        slots = self._tools.setdefault(index, {})
        for fragment in fragments:
            slot = slots.get(int(fragment.get("index") or 0))
            if slot is None:
                slot = {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                slots[int(fragment.get("index") or 0)] = slot
            if fragment.get("id"):
                slot["id"] = fragment["id"]
            function = fragment.get("function") or {}
            if function.get("name"):
                slot["function"]["name"] = function["name"]
            if function.get("arguments"):
                slot["function"]["arguments"] += function["arguments"]

    def _take_tools(self, index: int) -> list[dict[str, Any]] | None:
        slots = self._tools.pop(index, None)
        return [slots[key] for key in sorted(slots)] if slots else None


class OpenAIUpstream:
    """The Upstream protocol over an OpenAI-compatible ``/chat/completions`` endpoint."""

    __slots__ = ("_http", "_model", "_name", "_url")

    def __init__(self, config: ModelConfig) -> None:
        self._name = config.name
        self._model = config.target_model
        self._http = UpstreamHTTP(config, headers={"Accept": "application/json"})
        self._url = self._http.url("/chat/completions")

    def __repr__(self) -> str:
        return f"OpenAIUpstream(model={self._name!r})"

    async def complete(self, request: ChatRequest) -> ChatResult:
        body = encode_request(request, self._model, stream=False)
        return decode_result(await self._http.post_json(self._url, body), self._model)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamDelta, None]:
        body = encode_request(request, self._model, stream=True)
        assembler = OpenAIStreamAssembler()
        done = False
        async with aclosing(self._http.event_batches(self._url, body)) as batches:
            async for batch in batches:
                pending: list[StreamDelta] = []
                for event in batch:
                    if event.data == b"[DONE]":
                        done = True
                        break
                    chunk = loads(event.data)
                    if not isinstance(chunk, dict):
                        raise invalid_response()
                    if chunk.get("error") is not None:
                        raise stream_error(chunk)
                    try:
                        pending.extend(assembler.feed(chunk))
                    except (KeyError, TypeError, ValueError, AttributeError):
                        raise invalid_response() from None
                for delta in coalesce(pending):
                    yield delta
                if done:
                    break
        if not done and not assembler.finished_any:
            raise UpstreamError("upstream stream ended early")
        for delta in assembler.finish():
            yield delta

    async def aclose(self) -> None:
        await self._http.aclose()
