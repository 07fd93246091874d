"""One request flow for every chat API style.

A :class:`Wire` knows one API's shapes (parse the body, render a result, encode a
stream, shape an error); :func:`handle_chat` runs the same sequence for all of them:
authenticate, parse, prepare (scan in, assemble), call, scan out, record, respond.
Every authenticated request ends in exactly one audit record, whatever happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from bastion.errors import BastionError
from bastion.gateway.chat import ChatService
from bastion.gateway.data_tools import answer_with_data_tools, data_tools_apply
from bastion.gateway.http import (
    conversation_id,
    error_response,
    json_response,
    new_request_id,
    read_body,
)
from bastion.gateway.interaction import ChatInput, Interaction
from bastion.gateway.runtime import Runtime
from bastion.upstream.base import ChatResult, StreamDelta

__all__ = ["StreamEncoder", "Wire", "handle_chat"]

# The route whose requests may be answered with the assistant's data tools.
DATA_TOOLS_ROUTE = "/v1/chat/completions"


class StreamEncoder(Protocol):
    """Encodes one response stream; a fresh instance per request."""

    def open(self) -> list[bytes]: ...

    def encode(self, delta: StreamDelta) -> list[bytes]: ...

    def close(self) -> list[bytes]:
        """The end of a successful stream, sent only after the audit record is written."""
        ...

    def error(self, error: BastionError) -> bytes: ...


class Wire(Protocol):
    route: str
    anthropic_errors: bool

    def parse(self, raw: bytes) -> ChatInput: ...

    def render(self, result: ChatResult, request_id: str) -> dict[str, Any]: ...

    def encoder(self, model: str, request_id: str) -> StreamEncoder: ...


async def handle_chat(runtime: Runtime, wire: Wire, request: Request) -> Response:
    request_id = new_request_id()
    anthropic = wire.anthropic_errors
    try:
        principal = await runtime.authenticate(request)
    except BastionError as exc:
        return error_response(exc, anthropic=anthropic, request_id=request_id)
    it = Interaction(principal=principal, request_id=request_id, route=wire.route)
    chat = runtime.chat
    try:
        call = wire.parse(await read_body(request, runtime.settings.max_body_bytes))
        call.check_encodable()
        call.conversation = conversation_id(request)
        if wire.route == DATA_TOOLS_ROUTE and data_tools_apply(runtime, it, call):
            return await answer_with_data_tools(runtime, wire, it, call, request_id)
        prepared = await chat.prepare(it, call)
        if call.stream:
            body = _sse(chat, it, chat.stream(it, prepared), wire.encoder(call.model, request_id))
            return StreamingResponse(
                body,
                media_type="text/event-stream",
                headers={"x-request-id": request_id, "cache-control": "no-cache"},
            )
        result = await chat.complete(it, prepared)
        await chat.record(it)
    except BastionError as exc:
        try:
            await chat.record(it, exc)
        except BastionError as audit_exc:
            exc = audit_exc
        return error_response(exc, anthropic=anthropic, request_id=request_id)
    return json_response(wire.render(result, request_id), request_id=request_id)


async def _sse(
    chat: ChatService,
    it: Interaction,
    deltas: AsyncGenerator[StreamDelta, None],
    encoder: StreamEncoder,
) -> AsyncIterator[bytes]:
    """Encoded guarded deltas; the stream's end waits for the audit record.

    A block, an upstream failure or an audit failure mid-stream ends the stream with
    the API's error event instead of its normal end. A client that goes away still
    gets its interaction recorded (outcome ``client_disconnected``).
    """
    try:
        for chunk in encoder.open():
            yield chunk
        async with aclosing(deltas) as guarded:
            async for delta in guarded:
                for chunk in encoder.encode(delta):
                    yield chunk
        await chat.record(it)
    except BastionError as exc:
        error = exc
        try:
            await chat.record(it, exc)
        except BastionError as audit_exc:
            error = audit_exc
        yield encoder.error(error)
        return
    except (asyncio.CancelledError, GeneratorExit):
        it.aborted = True
        await chat.record(it, None)
        raise
    for chunk in encoder.close():
        yield chunk
