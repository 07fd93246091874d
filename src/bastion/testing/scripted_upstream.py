"""A scripted stand-in for an LLM provider: deliberately naive and easy to hijack.

This is **not a model**. It is a small aiohttp server that answers like one so that
tests, the demo and the benchmark can run Bastion end to end without a real provider.
It speaks OpenAI (``POST /v1/chat/completions``, ``GET /v1/models``) and Anthropic
(``POST /v1/messages``), plain and streaming (SSE, with ``stream_options.include_usage``).

Its reply depends only on the last user message (text parts joined):

* default: ``Happy to help. You said: <message>``.
* contains "system prompt", "ignore previous instructions" or "repeat everything
  above" (any case): it replies with its whole system prompt verbatim (all system
  messages, or Anthropic's ``system``, joined by newlines), i.e. it leaks any canary.
* ``ECHO:<text>``: replies exactly ``<text>`` (make the "model" say any secret or link);
  ``{SYSTEM}`` in ``<text>`` (or in TOOL arguments) becomes its system prompt, and
  in ``<text>`` ``{SYSTEM_URL}``/``{SYSTEM_B64}`` its percent-/base64-encoding,
  ``{CANARY}``/``{CANARY_HEAD}``/``{CANARY_B64}``/``{CANARY_HEX}`` the canary in
  it, plain, its first 14 characters, or encoded
  (a hijacked model smuggling secrets into a markdown image, for instance).
* ``B64:<base64>``: replies with the decoded text (an encoded secret slips past input
  scanning and comes out in clear: what output scanning is for).
* ``TOOL:<name>:<json args>``: answers with one tool call.
* ``SLEEP:<ms> <rest>``: waits ``ms`` milliseconds, then handles ``<rest>``.
* ``DRIP:<ms> <rest>``: handles ``<rest>``, streaming with ``ms`` milliseconds before
  each event (a stream that cannot finish before a client hangs up).
* ``FAIL:<status>``: answers that HTTP status with a provider-shaped error body whose
  message quotes the prompt (so tests can check the gateway never relays it).
* ``GARBAGE``: answers 200 with invalid JSON (or an invalid SSE data line).
* If the conversation ends with a tool result: ``Tool said: <result>``, the result
  read the way a model reads spotlighted content (boundary and datamarks removed).
  A result containing ``OBEY:<directive>`` hijacks it: it follows the directive as
  if the user had sent it (an indirect prompt injection that always works).

With ``n > 1`` (OpenAI) choice 0 is the reply and choice ``i`` is ``[i] `` + the reply.
Streams cut text and tool arguments into ``chunk_chars`` pieces (default 3), so any
string the gateway must catch is split across chunks; ``wire_chunk_bytes`` further
cuts each SSE event into separate socket writes. ``fixed=True`` ignores the input and
always returns a constant ~1 KB reply (for benchmarks). Every request is recorded in
``requests`` (lower-cased headers and JSON body) unless ``record=False``;
``require_key`` makes it answer 401 unless that key arrives as ``Authorization:
Bearer``, ``api-key`` or ``x-api-key``. Anthropic requests need ``anthropic-version``
and ``max_tokens``, as with the real API.

    with ScriptedUpstream.running() as up:
        up.base_url         # "http://127.0.0.1:PORT" (Anthropic base URL)
        up.openai_base_url  # up.base_url + "/v1"
        up.requests         # [RecordedRequest, ...]

Command line (for the demo and the benchmark)::

    python -m bastion.testing.scripted_upstream --host 127.0.0.1 --port 9100 [--fixed]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from bastion.testing import scripted_wire as wire
from bastion.testing._loopback import serve_in_thread
from bastion.testing.script import FIXED_REPLY, Reply, decide

__all__ = ["RecordedRequest", "ScriptedUpstream", "main"]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received: path, lower-cased headers and decoded JSON body."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _openai_reply(body: dict[str, Any]) -> Reply:
    messages = body["messages"]
    system = "\n".join(
        _text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
    )
    if messages and messages[-1].get("role") == "tool":
        return decide("", system, tool_result=_text(messages[-1].get("content")))
    users = [m for m in messages if m.get("role") == "user"]
    return decide(_text(users[-1].get("content")) if users else "", system)


def _anthropic_reply(body: dict[str, Any]) -> Reply:
    system = body.get("system") or ""
    system = (
        system
        if isinstance(system, str)
        else "\n".join(str(block.get("text", "")) for block in system if isinstance(block, dict))
    )
    users = [m for m in body["messages"] if m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    if isinstance(content, list) and content:
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        if results:
            return decide("", system, tool_result=_text(results[-1].get("content")))
        texts = [b for b in content if isinstance(b, dict) and b.get("type") == "text"]
        content = texts[-1:]  # like a person, it answers the last thing said
    return decide(_text(content), system)


class ScriptedUpstream:
    """The server's state and handlers; run it with :meth:`running` or :func:`main`."""

    def __init__(
        self,
        *,
        chunk_chars: int = 3,
        fixed: bool = False,
        require_key: str | None = None,
        record: bool = True,
        wire_chunk_bytes: int | None = None,
    ) -> None:
        if chunk_chars < 1:
            raise ValueError("chunk_chars must be at least 1")
        self.chunk_chars = chunk_chars
        self.fixed = fixed
        self.require_key = require_key
        self.record = record
        self.wire_chunk_bytes = wire_chunk_bytes
        self.requests: list[RecordedRequest] = []
        self.base_url = ""
        self._serial = itertools.count(1)

    def __repr__(self) -> str:
        return f"ScriptedUpstream(base_url={self.base_url!r}, fixed={self.fixed})"

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/messages", self._anthropic)
        return app

    def _authorised(self, request: web.Request) -> bool:
        if self.require_key is None:
            return True
        headers = request.headers
        offered = {
            headers.get("Authorization", "").removeprefix("Bearer "),
            headers.get("api-key", ""),
            headers.get("x-api-key", ""),
        }
        return self.require_key in offered

    async def _read(self, request: web.Request) -> tuple[Any, int]:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if self.record:
            self.requests.append(
                RecordedRequest(
                    request.method,
                    request.path,
                    dict(request.query),
                    {k.lower(): v for k, v in request.headers.items()},
                    body,
                )
            )
        return body, max(1, len(raw) // 4)

    async def _models(self, request: web.Request) -> web.Response:
        model = {"id": "scripted", "object": "model", "created": 0, "owned_by": "bastion-testing"}
        return web.json_response({"object": "list", "data": [model]}, dumps=_dumps)

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        body, prompt_tokens = await self._read(request)
        if not self._authorised(request):
            return _json(401, wire.openai_error(401, "bad key", "invalid_api_key"))
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _json(400, wire.openai_error(400, "messages required", "invalid_request"))
        reply = Reply(text=FIXED_REPLY) if self.fixed else _openai_reply(body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.fail_status is not None:
            message = _failure_message(body)
            return _json(reply.fail_status, wire.openai_error(reply.fail_status, message))
        model, serial = str(body.get("model", "scripted")), next(self._serial)
        n = int(body.get("n") or 1)
        if not body.get("stream"):
            if reply.garbage:
                return _json(200, wire.GARBAGE_BODY)
            return _json(
                200,
                wire.openai_completion(
                    reply, model=model, n=n, prompt_tokens=prompt_tokens, serial=serial
                ),
            )
        if reply.garbage:
            return await self._sse(request, [b"data: {not json\n\n"])
        options = body.get("stream_options") or {}
        events = wire.openai_stream(
            reply,
            model=model,
            n=n,
            prompt_tokens=prompt_tokens,
            serial=serial,
            chunk_chars=self.chunk_chars,
            include_usage=bool(options.get("include_usage")),
        )
        return await self._sse(request, events, reply.drip)

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        body, prompt_tokens = await self._read(request)
        if not self._authorised(request):
            return _json(401, wire.anthropic_error(401, "bad key", "authentication_error"))
        if "anthropic-version" not in request.headers:
            return _json(400, wire.anthropic_error(400, "anthropic-version header required"))
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _json(400, wire.anthropic_error(400, "messages: field required"))
        if not isinstance(body.get("max_tokens"), int):
            return _json(400, wire.anthropic_error(400, "max_tokens: field required"))
        reply = Reply(text=FIXED_REPLY) if self.fixed else _anthropic_reply(body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.fail_status is not None:
            message = _failure_message(body)
            return _json(reply.fail_status, wire.anthropic_error(reply.fail_status, message))
        model, serial = str(body.get("model", "scripted")), next(self._serial)
        if reply.garbage:
            if body.get("stream"):
                return await self._sse(request, [b"event: message_start\ndata: {oops\n\n"])
            return _json(200, wire.GARBAGE_BODY)
        if not body.get("stream"):
            message_body = wire.anthropic_message(
                reply, model=model, prompt_tokens=prompt_tokens, serial=serial
            )
            return _json(200, message_body)
        events = wire.anthropic_stream(
            reply,
            model=model,
            prompt_tokens=prompt_tokens,
            serial=serial,
            chunk_chars=self.chunk_chars,
        )
        return await self._sse(request, events, reply.drip)

    async def _sse(
        self, request: web.Request, events: list[bytes], drip: float = 0.0
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        size = self.wire_chunk_bytes
        try:
            for event in events:
                if drip:
                    await asyncio.sleep(drip)
                if size:
                    for start in range(0, len(event), size):
                        await response.write(event[start : start + size])
                else:
                    await response.write(event)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the gateway hung up (it stopped the stream): nothing more to send
        return response

    @classmethod
    @contextmanager
    def running(
        cls,
        *,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
        **options: Any,
    ) -> Iterator[ScriptedUpstream]:
        """Serve on ``host`` and a free port from a background thread with its own loop."""
        upstream = cls(**options)
        with serve_in_thread(upstream.app, host=host, ssl_context=ssl_context) as base_url:
            upstream.base_url = base_url
            yield upstream


def _failure_message(body: dict[str, Any]) -> str:
    """Quotes the prompt on purpose: the gateway must never relay upstream error text."""
    return "scripted failure for: " + orjson.dumps(body["messages"]).decode()


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _json(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the scripted upstream in the foreground until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m bastion.testing.scripted_upstream",
        description="A scripted stand-in for an LLM provider (not a model).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--fixed", action="store_true", help="constant ~1 KB reply")
    parser.add_argument("--chunk-chars", type=int, default=3)
    parser.add_argument("--require-key", default=None)
    parser.add_argument("--record", action="store_true", help="keep every request in memory")
    args = parser.parse_args(argv)
    upstream = ScriptedUpstream(
        chunk_chars=args.chunk_chars,
        fixed=args.fixed,
        require_key=args.require_key,
        record=args.record,
    )
    print(
        f"scripted upstream (a stand-in, not a model) on http://{args.host}:{args.port}",
        flush=True,
    )
    web.run_app(
        upstream.app(),
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
        loop=_fast_loop(),
    )


def _fast_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (the benchmark should measure Bastion, not this server)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


if __name__ == "__main__":
    main()
