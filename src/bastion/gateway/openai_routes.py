"""OpenAI-compatible routes: ``POST /v1/chat/completions`` and ``GET /v1/models``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from bastion.authz import allowed
from bastion.errors import BastionError, PermissionDenied
from bastion.gateway.chat import ChatService
from bastion.gateway.http import (
    error_response,
    json_response,
    new_request_id,
    openai_error_body,
    read_body,
)
from bastion.gateway.interaction import ChatInput, Interaction
from bastion.gateway.openai_schema import ChatCompletionBody, parse_chat_body
from bastion.gateway.routing import RouteSpec
from bastion.gateway.runtime import Runtime
from bastion.upstream.base import ChatResult, StreamDelta

__all__ = ["openai_routes"]

ROUTE = "/v1/chat/completions"


def openai_routes(runtime: Runtime) -> list[RouteSpec]:
    """The OpenAI-style routes, as handlers closed over ``runtime``."""

    async def chat_completions(request: Request) -> Response:
        request_id = new_request_id()
        try:
            principal = await runtime.authenticate(request)
        except BastionError as exc:
            return error_response(exc, request_id=request_id)
        it = Interaction(principal=principal, request_id=request_id, route=ROUTE)
        chat = runtime.chat
        try:
            body = parse_chat_body(await read_body(request, runtime.settings.max_body_bytes))
            call = ChatInput(
                model=body.model,
                messages=body.chat_messages(),
                stream=body.stream,
                params=body.params(),
                tools=body.tools,
                tool_choice=body.tool_choice,
                include_usage=bool(body.stream_options and body.stream_options.include_usage),
            )
            prepared = await chat.prepare(it, call)
            if call.stream:
                stream = _sse(chat, it, aclosing(chat.stream(it, prepared)), call.model, request_id)
                return StreamingResponse(
                    stream,
                    media_type="text/event-stream",
                    headers={"x-request-id": request_id, "cache-control": "no-cache"},
                )
            result = await chat.complete(it, prepared)
            await chat.record(it)
        except BastionError as exc:
            try:
                await chat.record(it, exc)
            except BastionError as audit_exc:
                return error_response(audit_exc, request_id=request_id)
            return error_response(exc, request_id=request_id)
        return json_response(_completion(result, request_id), request_id=request_id)

    async def list_models(request: Request) -> Response:
        try:
            principal = await runtime.authenticate(request)
            if not allowed(principal.role, "models.list"):
                raise PermissionDenied("This key may not list models.")
            policy = runtime.policies.get(principal.policy).policy
        except BastionError as exc:
            return error_response(exc)
        data = [
            {"id": m.name, "object": "model", "created": 0, "owned_by": "bastion"}
            for m in runtime.settings.models
            if policy.allows_model(m.name)
        ]
        return json_response({"object": "list", "data": data})

    schema = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ChatCompletionBody.model_json_schema()}},
        }
    }
    return [
        RouteSpec("POST", ROUTE, chat_completions, schema),
        RouteSpec("GET", "/v1/models", list_models),
    ]


def _completion(result: ChatResult, request_id: str) -> dict[str, Any]:
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
    usage = result.usage
    return {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": result.model,
        "choices": choices,
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        },
    }


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def _sse(
    chat: ChatService,
    it: Interaction,
    deltas: aclosing[AsyncGenerator[StreamDelta, None]],
    model: str,
    request_id: str,
) -> AsyncIterator[bytes]:
    """Chunks in OpenAI's stream format; an error mid-stream becomes an error event."""
    created = int(time.time())
    base = {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }
    started: set[int] = set()
    try:
        async with deltas as guarded:
            async for delta in guarded:
                if delta.usage is not None:
                    usage = delta.usage
                    yield _event(
                        {
                            **base,
                            "choices": [],
                            "usage": {
                                "prompt_tokens": usage.prompt_tokens,
                                "completion_tokens": usage.completion_tokens,
                                "total_tokens": usage.total_tokens,
                            },
                        }
                    )
                    continue
                payload: dict[str, Any] = {}
                if delta.index not in started:
                    started.add(delta.index)
                    payload["role"] = "assistant"
                if delta.text:
                    payload["content"] = delta.text
                if delta.tool_calls:
                    payload["tool_calls"] = [
                        {**call, "index": i} for i, call in enumerate(delta.tool_calls)
                    ]
                yield _event(
                    {
                        **base,
                        "choices": [
                            {
                                "index": delta.index,
                                "delta": payload,
                                "finish_reason": delta.finish_reason,
                                "logprobs": None,
                            }
                        ],
                    }
                )
            await chat.record(it)
    except BastionError as exc:
        error = exc
        try:
            await chat.record(it, exc)
        except BastionError as audit_exc:
            error = audit_exc
        yield _event(openai_error_body(error))
        return
    except (asyncio.CancelledError, GeneratorExit):
        # The client went away: the record of what was delivered still gets written.
        it.aborted = True
        await chat.record(it, None)
        raise
    yield b"data: [DONE]\n\n"
