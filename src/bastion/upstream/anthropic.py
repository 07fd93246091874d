"""Adapter for Anthropic's Messages API (``POST {base_url}/v1/messages``).

``base_url`` is the API root, e.g. ``https://api.anthropic.com`` (a trailing ``/v1`` is
tolerated). The key goes in
``x-api-key`` (or per ``auth_style``); ``anthropic-version: 2023-06-01`` is always sent.
Translation lives in :mod:`bastion.upstream.anthropic_messages`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from bastion.errors import UpstreamError
from bastion.settings import ModelConfig
from bastion.upstream.anthropic_messages import (
    AnthropicStreamAssembler,
    decode_message,
    encode_request,
)
from bastion.upstream.base import ChatRequest, ChatResult, StreamDelta, coalesce
from bastion.upstream.http import UpstreamHTTP, invalid_response, loads, stream_error

__all__ = ["ANTHROPIC_VERSION", "AnthropicUpstream"]

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicUpstream:
    """The Upstream protocol over Anthropic's Messages API."""

    __slots__ = ("_http", "_model", "_name", "_url")

    def __init__(self, config: ModelConfig) -> None:
        self._name = config.name
        self._model = config.target_model
        self._http = UpstreamHTTP(
            config, headers={"Accept": "application/json", "anthropic-version": ANTHROPIC_VERSION}
        )
        root_has_v1 = config.base_url.rstrip("/").endswith("/v1")
        self._url = self._http.url("/messages" if root_has_v1 else "/v1/messages")

    def __repr__(self) -> str:
        return f"AnthropicUpstream(model={self._name!r})"

    async def complete(self, request: ChatRequest) -> ChatResult:
        body = encode_request(request, self._model, stream=False)
        return decode_message(await self._http.post_json(self._url, body), self._model)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamDelta, None]:
        body = encode_request(request, self._model, stream=True)
        assembler = AnthropicStreamAssembler()
        async with aclosing(self._http.event_batches(self._url, body)) as batches:
            async for batch in batches:
                pending: list[StreamDelta] = []
                for event in batch:
                    payload = loads(event.data)
                    if not isinstance(payload, dict):
                        raise invalid_response()
                    if payload.get("type") == "error" or event.event == "error":
                        raise stream_error(payload)
                    try:
                        pending.extend(assembler.feed(payload))
                    except (KeyError, TypeError, ValueError, AttributeError):
                        raise invalid_response() from None
                    if assembler.stopped:
                        break
                for delta in coalesce(pending):
                    yield delta
                if assembler.stopped:
                    break
        if not assembler.finished:
            raise UpstreamError("upstream stream ended early")

    async def aclose(self) -> None:
        await self._http.aclose()
