"""Anthropic-compatible route: ``POST /v1/messages`` (plain and streaming)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bastion.errors import BastionError
from bastion.gateway.anthropic_schema import MessagesBody, parse_messages_body
from bastion.gateway.flow import handle_chat
from bastion.gateway.http import anthropic_error_body
from bastion.gateway.interaction import ChatInput
from bastion.gateway.routing import RouteSpec
from bastion.gateway.runtime import Runtime
from bastion.upstream.base import ChatResult, StreamDelta, Usage

__all__ = ["AnthropicWire", "anthropic_routes"]

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _content_blocks(text: str, tool_calls: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for call in tool_calls or ():
        function = call.get("function", {})
        try:
            arguments = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            arguments = {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id", ""),
                "name": function.get("name", ""),
                "input": arguments,
            }
        )
    return blocks


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


class AnthropicStreamEncoder:
    """Anthropic's event sequence for choice 0, built from guarded deltas."""

    def __init__(self, model: str, request_id: str) -> None:
        self._model = model
        self._request_id = request_id
        self._stop_reason = "end_turn"
        self._usage = Usage()
        self._block_open = False
        self._block = 0

    def open(self) -> list[bytes]:
        message: dict[str, Any] = {
            "id": f"msg_{self._request_id}",
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [_event("message_start", {"type": "message_start", "message": message})]

    def _start(self, block: dict[str, Any]) -> bytes:
        return _event(
            "content_block_start",
            {"type": "content_block_start", "index": self._block, "content_block": block},
        )

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event(
            "content_block_delta",
            {"type": "content_block_delta", "index": self._block, "delta": delta},
        )

    def _stop(self) -> bytes:
        event = _event("content_block_stop", {"type": "content_block_stop", "index": self._block})
        self._block += 1
        return event

    def encode(self, delta: StreamDelta) -> list[bytes]:
        if delta.usage is not None:
            self._usage = delta.usage
            return []
        if delta.index != 0:
            return []
        out: list[bytes] = []
        if delta.text:
            if not self._block_open:
                out.append(self._start({"type": "text", "text": ""}))
                self._block_open = True
            out.append(self._delta({"type": "text_delta", "text": delta.text}))
        if delta.finish_reason is not None:
            self._stop_reason = _STOP.get(delta.finish_reason, "end_turn")
            if self._block_open:
                out.append(self._stop())
                self._block_open = False
            for block in _content_blocks("", delta.tool_calls):
                out.append(self._start({**block, "input": {}}))
                partial = orjson.dumps(block["input"]).decode()
                out.append(self._delta({"type": "input_json_delta", "partial_json": partial}))
                out.append(self._stop())
        return out

    def close(self) -> list[bytes]:
        out = [self._stop()] if self._block_open else []
        self._block_open = False
        out.append(
            _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": self._stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": self._usage.completion_tokens},
                },
            )
        )
        out.append(_event("message_stop", {"type": "message_stop"}))
        return out

    def error(self, error: BastionError) -> bytes:
        return _event("error", anthropic_error_body(error))


class AnthropicWire:
    route = "/v1/messages"
    anthropic_errors = True

    def parse(self, raw: bytes) -> ChatInput:
        return parse_messages_body(raw).to_chat_input()

    def render(self, result: ChatResult, request_id: str) -> dict[str, Any]:
        choice = result.choices[0]
        return {
            "id": f"msg_{request_id}",
            "type": "message",
            "role": "assistant",
            "model": result.model,
            "content": _content_blocks(choice.content, choice.tool_calls),
            "stop_reason": _STOP.get(choice.finish_reason or "stop", "end_turn"),
            "stop_sequence": None,
            "usage": {
                "input_tokens": result.usage.prompt_tokens,
                "output_tokens": result.usage.completion_tokens,
            },
        }

    def encoder(self, model: str, request_id: str) -> AnthropicStreamEncoder:
        return AnthropicStreamEncoder(model, request_id)


def anthropic_routes(runtime: Runtime) -> list[RouteSpec]:
    """The Anthropic-style route, as a handler closed over ``runtime``."""
    wire = AnthropicWire()

    async def messages(request: Request) -> Response:
        return await handle_chat(runtime, wire, request)

    return [RouteSpec("POST", wire.route, messages, MessagesBody)]
