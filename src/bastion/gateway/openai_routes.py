"""OpenAI-compatible routes: ``POST /v1/chat/completions`` and ``GET /v1/models``."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bastion.authz import allowed
from bastion.errors import BastionError, PermissionDenied
from bastion.gateway.flow import handle_chat
from bastion.gateway.http import error_response, json_response, openai_error_body
from bastion.gateway.interaction import ChatInput
from bastion.gateway.openai_schema import ChatCompletionBody, parse_chat_body
from bastion.gateway.routing import RouteSpec
from bastion.gateway.runtime import Runtime
from bastion.upstream.base import ChatResult, StreamDelta, Usage

__all__ = ["OpenAIWire", "openai_routes"]


def _usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class OpenAIStreamEncoder:
    """``chat.completion.chunk`` events, then ``data: [DONE]``."""

    def __init__(self, model: str, request_id: str) -> None:
        self._base = {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        self._started: set[int] = set()

    def open(self) -> list[bytes]:
        return []

    def encode(self, delta: StreamDelta) -> list[bytes]:
        if delta.usage is not None:
            return [_event({**self._base, "choices": [], "usage": _usage(delta.usage)})]
        payload: dict[str, Any] = {}
        if delta.index not in self._started:
            self._started.add(delta.index)
            payload["role"] = "assistant"
        if delta.text:
            payload["content"] = delta.text
        if delta.tool_calls:
            payload["tool_calls"] = [
                {**call, "index": i} for i, call in enumerate(delta.tool_calls)
            ]
        choice = {
            "index": delta.index,
            "delta": payload,
            "finish_reason": delta.finish_reason,
            "logprobs": None,
        }
        return [_event({**self._base, "choices": [choice]})]

    def close(self) -> list[bytes]:
        return [b"data: [DONE]\n\n"]

    def error(self, error: BastionError) -> bytes:
        return _event(openai_error_body(error))


class OpenAIWire:
    route = "/v1/chat/completions"
    anthropic_errors = False

    def parse(self, raw: bytes) -> ChatInput:
        body = parse_chat_body(raw)
        return ChatInput(
            model=body.model,
            messages=body.chat_messages(),
            stream=body.stream,
            params=body.params(),
            tools=body.tools,
            tool_choice=body.tool_choice,
            include_usage=bool(body.stream_options and body.stream_options.include_usage),
        )

    def render(self, result: ChatResult, request_id: str) -> dict[str, Any]:
        choices = []
        for choice in result.choices:
            message: dict[str, Any] = {"role": "assistant", "content": choice.content}
            if choice.tool_calls:
                message["tool_calls"] = choice.tool_calls
            choices.append(
                {
                    "index": choice.index,
                    "message": message,
                    "finish_reason": choice.finish_reason,
                    "logprobs": None,
                }
            )
        return {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": result.model,
            "choices": choices,
            "usage": _usage(result.usage),
        }

    def encoder(self, model: str, request_id: str) -> OpenAIStreamEncoder:
        return OpenAIStreamEncoder(model, request_id)


def openai_routes(runtime: Runtime) -> list[RouteSpec]:
    """The OpenAI-style routes, as handlers closed over ``runtime``."""
    wire = OpenAIWire()

    async def chat_completions(request: Request) -> Response:
        return await handle_chat(runtime, wire, request)

    async def list_models(request: Request) -> Response:
        try:
            principal = await runtime.authenticate(request)
            if not allowed(principal.role, "models.list"):
                raise PermissionDenied("This key may not list models.")
            resolved = runtime.policies.get(principal.policy)
        except BastionError as exc:
            return error_response(exc)
        data = [
            {"id": m.name, "object": "model", "created": 0, "owned_by": "bastion"}
            for m in runtime.settings.models
            if resolved.allows_model(principal.role, m.name)
        ]
        return json_response({"object": "list", "data": data})

    return [
        RouteSpec("POST", wire.route, chat_completions, ChatCompletionBody),
        RouteSpec("GET", "/v1/models", list_models),
    ]
