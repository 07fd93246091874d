"""Anthropic-compatible route: ``POST /v1/messages`` (plain and streaming)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from bastion.errors import BastionError
from bastion.gateway.anthropic_schema import MessagesBody, parse_messages_body
from bastion.gateway.chat import ChatService
from bastion.gateway.http import (
    anthropic_error_body,
    error_response,
    json_response,
    new_request_id,
    read_body,
)
from bastion.gateway.interaction import Interaction
from bastion.gateway.routing import RouteSpec
from bastion.gateway.runtime import Runtime
from bastion.upstream.base import ChatResult, StreamDelta, Usage

__all__ = ["anthropic_routes"]

ROUTE = "/v1/messages"
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def anthropic_routes(runtime: Runtime) -> list[RouteSpec]:
    """The Anthropic-style route, as a handler closed over ``runtime``."""

    async def messages(request: Request) -> Response:
        request_id = new_request_id()
        try:
            principal = await runtime.authenticate(request)
        except BastionError as exc:
            return error_response(exc, anthropic=True, request_id=request_id)
        it = Interaction(principal=principal, request_id=request_id, route=ROUTE)
        chat = runtime.chat
        try:
            body = parse_messages_body(await read_body(request, runtime.settings.max_body_bytes))
            call = body.to_chat_input()
            prepared = await chat.prepare(it, call)
            if call.stream:
                events = _sse(chat, it, aclosing(chat.stream(it, prepared)), call.model, request_id)
                return StreamingResponse(
                    events,
                    media_type="text/event-stream",
                    headers={"x-request-id": request_id, "cache-control": "no-cache"},
                )
            result = await chat.complete(it, prepared)
            await chat.record(it)
        except BastionError as exc:
            try:
                await chat.record(it, exc)
            except BastionError as audit_exc:
                return error_response(audit_exc, anthropic=True, request_id=request_id)
            return error_response(exc, anthropic=True, request_id=request_id)
        return json_response(_message(result, request_id), request_id=request_id)

    schema = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": MessagesBody.model_json_schema()}},
        }
    }
    return [RouteSpec("POST", ROUTE, messages, schema)]


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


def _message(result: ChatResult, request_id: str) -> dict[str, Any]:
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


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


async def _sse(
    chat: ChatService,
    it: Interaction,
    deltas: aclosing[AsyncGenerator[StreamDelta, None]],
    model: str,
    request_id: str,
) -> AsyncIterator[bytes]:
    """Anthropic's event sequence for choice 0, built from guarded deltas."""
    yield _event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": f"msg_{request_id}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            },
        },
    )
    stop_reason = "end_turn"
    usage = Usage()
    block_open = False
    block_index = 0
    try:
        async with deltas as guarded:
            async for delta in guarded:
                if delta.usage is not None:
                    usage = delta.usage
                    continue
                if delta.index != 0:
                    continue
                if delta.text:
                    if not block_open:
                        yield _event(
                            "content_block_start",
                            {
                                "type": "content_block_start",
                                "index": block_index,
                                "content_block": {"type": "text", "text": ""},
                            },
                        )
                        block_open = True
                    yield _event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": block_index,
                            "delta": {"type": "text_delta", "text": delta.text},
                        },
                    )
                if delta.finish_reason is not None:
                    stop_reason = _STOP.get(delta.finish_reason, "end_turn")
                    if block_open:
                        yield _event(
                            "content_block_stop",
                            {"type": "content_block_stop", "index": block_index},
                        )
                        block_open = False
                        block_index += 1
                    for block in _content_blocks("", delta.tool_calls):
                        yield _event(
                            "content_block_start",
                            {
                                "type": "content_block_start",
                                "index": block_index,
                                "content_block": {**block, "input": {}},
                            },
                        )
                        yield _event(
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": block_index,
                                "delta": {
                                    "type": "input_json_delta",
                                    "partial_json": orjson.dumps(block["input"]).decode(),
                                },
                            },
                        )
                        yield _event(
                            "content_block_stop",
                            {"type": "content_block_stop", "index": block_index},
                        )
                        block_index += 1
            if block_open:
                yield _event(
                    "content_block_stop", {"type": "content_block_stop", "index": block_index}
                )
            await chat.record(it)
    except BastionError as exc:
        error = exc
        try:
            await chat.record(it, exc)
        except BastionError as audit_exc:
            error = audit_exc
        yield _event("error", anthropic_error_body(error))
        return
    except (asyncio.CancelledError, GeneratorExit):
        it.aborted = True
        await chat.record(it, None)
        raise
    yield _event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": usage.completion_tokens},
        },
    )
    yield _event("message_stop", {"type": "message_stop"})
