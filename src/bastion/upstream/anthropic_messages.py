"""Translation between the gateway's OpenAI-shaped types and Anthropic's Messages API.

Requests: system messages become the top-level ``system`` (joined in order), tool
results become ``tool_result`` blocks in a user turn, assistant tool calls become
``tool_use`` blocks, and consecutive turns of one role are merged so roles alternate.
``max_tokens`` is required by Anthropic (``max_tokens``, else ``max_completion_tokens``,
else 1024); ``stop`` becomes ``stop_sequences``; ``temperature``/``top_p``/``top_k``
pass through; ``user`` becomes ``metadata.user_id``; OpenAI-only parameters
(penalties, seed, response_format, logprobs...) are dropped; ``n > 1`` is refused.
"""

from __future__ import annotations

from typing import Any

import orjson

from bastion.errors import InvalidRequest
from bastion.upstream.base import ChatMessage, ChatRequest, ChatResult, Choice, StreamDelta, Usage
from bastion.upstream.http import invalid_response

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "AnthropicStreamAssembler",
    "decode_message",
    "encode_request",
    "finish_reason",
]

DEFAULT_MAX_TOKENS = 1024
_PASSED = ("temperature", "top_p", "top_k")


def finish_reason(stop_reason: str | None) -> str:
    """OpenAI's finish_reason for an Anthropic stop_reason."""
    if stop_reason == "max_tokens":
        return "length"
    if stop_reason == "tool_use":
        return "tool_calls"
    if stop_reason == "refusal":
        return "content_filter"
    return "stop"


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str | bytes) else arguments
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequest("tool call arguments must be a JSON object", param="tool_calls")
    return {"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": parsed}


def _blocks(message: ChatMessage) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        result = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        if message.content:
            result["content"] = message.content
        return "user", [result]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    if message.role == "assistant":
        blocks.extend(_tool_use(call) for call in message.tool_calls or ())
        return "assistant", blocks
    return "user", blocks


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") or tool
    out: dict[str, Any] = {
        "name": function.get("name"),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    out: dict[str, Any] | None
    if choice == "none":
        out = {"type": "none"}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        out = {"type": "tool", "name": choice["function"].get("name")}
    elif choice == "auto" or parallel is False:
        out = {"type": "auto"}
    else:
        return None
    if parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


def encode_request(request: ChatRequest, model: str, *, stream: bool) -> bytes:
    """The Messages API body for ``request`` sent as ``model``."""
    params = request.params
    if int(params.get("n") or 1) > 1:
        raise InvalidRequest("n > 1 is not supported by this model's provider", param="n")
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role in ("system", "developer"):
            system.append(message.content)
            continue
        role, blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": params.get("max_tokens")
        or params.get("max_completion_tokens")
        or DEFAULT_MAX_TOKENS,
        "messages": turns,
    }
    if system:
        body["system"] = "\n\n".join(system)
    for key in _PASSED:
        if params.get(key) is not None:
            body[key] = params[key]
    stop = params.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if params.get("user"):
        body["metadata"] = {"user_id": params["user"]}
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    choice = _tool_choice(request.tool_choice, params.get("parallel_tool_calls"))
    if choice is not None and request.tools:
        body["tool_choice"] = choice
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    prompt = sum(
        int(raw.get(key) or 0)
        for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    return Usage(prompt, int(raw.get("output_tokens") or 0))


def _tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def decode_message(payload: Any, model: str) -> ChatResult:
    """A one-choice ChatResult from a Messages API ``message`` object."""
    try:
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        for block in payload["content"]:
            if block["type"] == "text":
                texts.append(block["text"])
            elif block["type"] == "tool_use":
                arguments = orjson.dumps(block.get("input") or {}).decode()
                calls.append(_tool_call(block["id"], block["name"], arguments))
        choice = Choice(0, "".join(texts), finish_reason(payload.get("stop_reason")), calls or None)
        return ChatResult(
            str(payload.get("model") or model), [choice], _usage(payload.get("usage"))
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise invalid_response() from None


class AnthropicStreamAssembler:
    """Turns Messages API stream events into StreamDelta (one choice, index 0).

    Text deltas pass through; ``input_json_delta`` fragments are assembled per content
    block and emitted as OpenAI-style tool_calls on the finishing delta; usage (input
    from ``message_start``, output from ``message_delta``) comes last on ``message_stop``.
    """

    __slots__ = ("_input_tokens", "_output_tokens", "_tools", "finished", "stopped")

    def __init__(self) -> None:
        self._tools: dict[int, list[str]] = {}  # block index -> [id, name, json...]
        self._input_tokens = 0
        self._output_tokens = 0
        self.finished = False
        self.stopped = False

    def feed(self, event: dict[str, Any]) -> list[StreamDelta]:
        """Deltas for one decoded event (``error`` events are handled by the caller)."""
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event["delta"]
            if delta.get("type") == "text_delta" and delta.get("text"):
                return [StreamDelta(0, delta["text"])]
            if delta.get("type") == "input_json_delta":
                self._tools[int(event["index"])].append(delta.get("partial_json") or "")
        elif kind == "content_block_start":
            block = event["content_block"]
            if block.get("type") == "tool_use":
                self._tools[int(event["index"])] = [block["id"], block["name"]]
        elif kind == "message_start":
            usage = _usage(event["message"].get("usage"))
            self._input_tokens, self._output_tokens = usage.prompt_tokens, usage.completion_tokens
        elif kind == "message_delta":
            if event.get("usage"):
                self._output_tokens = int(event["usage"].get("output_tokens") or 0)
            stop = (event.get("delta") or {}).get("stop_reason")
            if stop and not self.finished:
                self.finished = True
                return [StreamDelta(0, "", finish_reason(stop), self._take_tools())]
        elif kind == "message_stop":
            self.stopped = True
            return [StreamDelta(usage=Usage(self._input_tokens, self._output_tokens))]
        return []

    def _take_tools(self) -> list[dict[str, Any]] | None:
        calls = [
            _tool_call(parts[0], parts[1], "".join(parts[2:]) or "{}")
            for _, parts in sorted(self._tools.items())
        ]
        self._tools.clear()
        return calls or None
