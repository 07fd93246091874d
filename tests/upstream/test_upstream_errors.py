"""Failures map to UpstreamError/UpstreamTimeout without leaking prompts or bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bastion.errors import UpstreamError, UpstreamTimeout
from bastion.settings import ModelConfig
from bastion.testing.scripted_upstream import ScriptedUpstream
from bastion.upstream import (
    AnthropicUpstream,
    ChatMessage,
    ChatRequest,
    OpenAIUpstream,
    Upstream,
    UpstreamStatusError,
    make_upstream,
)
from tests.ports import free_port

SECRET_PROMPT = "my card is 4111 1111 1111 1111"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _request(text: str) -> ChatRequest:
    return ChatRequest(model="m", messages=[ChatMessage("user", text)])


async def _drain(upstream: Upstream, request: ChatRequest) -> str:
    return "".join([delta.text async for delta in upstream.stream(request)])


def _assert_clean(error: Exception) -> None:
    for text in (str(error), repr(error)):
        assert "4111" not in text
        assert "scripted failure" not in text


@pytest.fixture(params=["openai", "anthropic"])
async def adapter(
    request: pytest.FixtureRequest,
    scripted: ScriptedUpstream,
    make_config: Callable[..., ModelConfig],
) -> AsyncIterator[Upstream]:
    """Each adapter in turn, pointed at the scripted upstream."""
    if request.param == "openai":
        upstream: Upstream = OpenAIUpstream(make_config(scripted.openai_base_url))
    else:
        upstream = AnthropicUpstream(make_config(scripted.base_url, provider="anthropic"))
    yield upstream
    await upstream.aclose()


@asynccontextmanager
async def _raw_server(path: str, handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post(path, handler)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_unreachable(provider: str) -> None:
    """A closed port is 'upstream unreachable', not a timeout."""
    url = f"http://127.0.0.1:{free_port()}"
    config = ModelConfig.model_validate({"name": "m", "provider": provider, "base_url": url})
    upstream = make_upstream(config)
    try:
        with pytest.raises(UpstreamError, match=r"^upstream unreachable$") as info:
            await upstream.complete(_request(SECRET_PROMPT))
        assert not isinstance(info.value, UpstreamTimeout)
        with pytest.raises(UpstreamError, match=r"^upstream unreachable$"):
            await _drain(upstream, _request(SECRET_PROMPT))
    finally:
        await upstream.aclose()


async def test_http_error_names_status_only(adapter: Upstream) -> None:
    """A 500 names the status and provider error type, never the body's message."""
    with pytest.raises(UpstreamStatusError, match=r"^upstream returned HTTP 500 \(") as info:
        await adapter.complete(_request(f"FAIL:500 {SECRET_PROMPT}"))
    assert info.value.upstream_status == 500
    assert info.value.status == 502
    _assert_clean(info.value)
    with pytest.raises(UpstreamStatusError) as info:
        await _drain(adapter, _request(f"FAIL:503 {SECRET_PROMPT}"))
    assert info.value.upstream_status == 503
    _assert_clean(info.value)


async def test_wrong_key_is_401(scripted: ScriptedUpstream) -> None:
    """A rejected upstream key surfaces as HTTP 401 with the provider's error code."""
    upstream = OpenAIUpstream(ModelConfig(name="m", base_url=scripted.openai_base_url))
    try:
        with pytest.raises(UpstreamStatusError, match="invalid_api_key") as info:
            await upstream.complete(_request("hi"))
    finally:
        await upstream.aclose()
    assert info.value.upstream_status == 401


async def test_garbage_plain_and_stream(adapter: Upstream) -> None:
    """Invalid JSON, plain or streamed, is 'upstream sent an invalid response'."""
    with pytest.raises(UpstreamError, match=r"^upstream sent an invalid response$"):
        await adapter.complete(_request("GARBAGE"))
    with pytest.raises(UpstreamError, match=r"^upstream sent an invalid response$"):
        await _drain(adapter, _request("GARBAGE"))


async def test_read_timeout(make_config: Callable[..., ModelConfig], upstream_key: str) -> None:
    """An upstream slower than read_timeout raises UpstreamTimeout, plain and streaming."""
    with ScriptedUpstream.running(require_key=upstream_key) as scripted:
        upstream = OpenAIUpstream(make_config(scripted.openai_base_url, read_timeout=0.2))
        try:
            with pytest.raises(UpstreamTimeout, match=r"^upstream timed out$"):
                await upstream.complete(_request("SLEEP:3000 hi"))
            with pytest.raises(UpstreamTimeout):
                await _drain(upstream, _request("SLEEP:3000 hi"))
            assert (await upstream.complete(_request("SLEEP:10 ECHO:ok"))).choices[
                0
            ].content == "ok"
        finally:
            await upstream.aclose()


async def _openai_error_midway(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n')
    await response.write(
        b'data: {"error":{"type":"server_error","code":"overloaded","message":"'
        + SECRET_PROMPT.encode()
        + b'"}}\n\n'
    )
    await response.write_eof()
    return response


async def _anthropic_error_midway(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(
        b'event: message_start\ndata: {"type":"message_start","message":{"usage":{}}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"'
        + SECRET_PROMPT.encode()
        + b'"}}\n\n'
    )
    await response.write_eof()
    return response


async def _truncated(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n')
    await response.write_eof()
    return response


async def _dropped(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n')
    assert request.transport is not None
    request.transport.abort()
    return response


async def test_openai_error_event_mid_stream() -> None:
    """An error object inside an OpenAI stream raises UpstreamError naming its type only."""
    async with _raw_server("/v1/chat/completions", _openai_error_midway) as base:
        upstream = OpenAIUpstream(ModelConfig(name="m", base_url=base + "/v1"))
        try:
            with pytest.raises(UpstreamError, match=r"mid-stream \(server_error/overloaded\)") as e:
                await _drain(upstream, _request("hi"))
        finally:
            await upstream.aclose()
    _assert_clean(e.value)


async def test_anthropic_error_event_mid_stream() -> None:
    """An Anthropic `error` event raises UpstreamError naming its type only."""
    async with _raw_server("/v1/messages", _anthropic_error_midway) as base:
        upstream = AnthropicUpstream(ModelConfig(name="m", provider="anthropic", base_url=base))
        try:
            with pytest.raises(UpstreamError, match=r"mid-stream \(overloaded_error\)") as e:
                await _drain(upstream, _request("hi"))
        finally:
            await upstream.aclose()
    _assert_clean(e.value)


async def test_stream_without_end_is_an_error() -> None:
    """A stream that stops before [DONE] or any finish_reason is not a complete answer."""
    async with _raw_server("/v1/chat/completions", _truncated) as base:
        upstream = OpenAIUpstream(ModelConfig(name="m", base_url=base + "/v1"))
        try:
            with pytest.raises(UpstreamError, match="ended early"):
                await _drain(upstream, _request("hi"))
        finally:
            await upstream.aclose()


async def test_connection_dropped_mid_stream() -> None:
    """A connection cut mid-stream raises UpstreamError from the iterator."""
    async with _raw_server("/v1/chat/completions", _dropped) as base:
        upstream = OpenAIUpstream(ModelConfig(name="m", base_url=base + "/v1"))
        try:
            with pytest.raises(UpstreamError, match=r"^upstream connection failed$"):
                await _drain(upstream, _request("hi"))
        finally:
            await upstream.aclose()


async def test_redirects_are_not_followed(scripted: ScriptedUpstream) -> None:
    """A redirect is an error: the key and prompt are never re-sent to another URL."""

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect(scripted.openai_base_url + "/chat/completions")

    async with _raw_server("/v1/chat/completions", redirect) as base:
        upstream = OpenAIUpstream(ModelConfig(name="m", base_url=base + "/v1"))
        try:
            with pytest.raises(UpstreamStatusError, match="HTTP 307"):
                await upstream.complete(_request("hi"))
        finally:
            await upstream.aclose()
    assert scripted.requests == []


async def test_untrusted_error_fields_dropped() -> None:
    """Provider error type/code that are not short identifiers are left out of the message."""

    async def odd_error(request: web.Request) -> web.StreamResponse:
        body = {"error": {"type": SECRET_PROMPT, "code": "x" * 200, "message": SECRET_PROMPT}}
        return web.json_response(body, status=400)

    async with _raw_server("/v1/chat/completions", odd_error) as base:
        upstream = OpenAIUpstream(ModelConfig(name="m", base_url=base + "/v1"))
        try:
            with pytest.raises(UpstreamStatusError, match=r"^upstream returned HTTP 400$") as e:
                await upstream.complete(_request("hi"))
        finally:
            await upstream.aclose()
    _assert_clean(e.value)
