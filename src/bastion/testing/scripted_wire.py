"""Rendering a scripted :class:`~bastion.testing.script.Reply` in OpenAI and Anthropic shapes.

Plain bodies are JSON bytes; streams are lists of complete SSE events (bytes) that the
server writes one by one. Text and tool arguments are cut into ``chunk_chars`` pieces.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from bastion.testing.script import Reply

__all__ = [
    "GARBAGE_BODY",
    "anthropic_error",
    "anthropic_message",
    "anthropic_stream",
    "choice_text",
    "openai_completion",
    "openai_error",
    "openai_stream",
]

GARBAGE_BODY = b'{"choices": [{"message": this is not json'


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def choice_text(reply: Reply, index: int) -> str:
    """Choice 0 says the reply exactly; choice ``i > 0`` prefixes ``[i] `` to tell them apart."""
    return reply.text if index == 0 else f"[{index}] {reply.text}"


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def openai_error(status: int, message: str, code: str = "scripted_failure") -> bytes:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


def anthropic_error(status: int, message: str, kind: str | None = None) -> bytes:
    kind = kind or ("api_error" if status >= 500 else "invalid_request_error")
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})


def _openai_tool(reply: Reply, call_id: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": reply.tool_name, "arguments": reply.tool_arguments},
    }


def openai_completion(
    reply: Reply, *, model: str, n: int, prompt_tokens: int, serial: int
) -> bytes:
    choices = []
    completion = 0
    for index in range(n):
        if reply.tool_name is not None:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [_openai_tool(reply, f"call_scripted_{serial}_{index}")],
            }
            finish = "tool_calls"
            completion += _tokens(reply.tool_arguments)
        else:
            text = choice_text(reply, index)
            message = {"role": "assistant", "content": text}
            finish = "stop"
            completion += _tokens(text)
        choices.append({"index": index, "message": message, "finish_reason": finish})
    return orjson.dumps(
        {
            "id": f"chatcmpl-scripted-{serial}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion,
                "total_tokens": prompt_tokens + completion,
            },
        }
    )


def _sse(payload: Any, event: str | None = None) -> bytes:
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + orjson.dumps(payload) + b"\n\n"


def openai_stream(
    reply: Reply,
    *,
    model: str,
    n: int,
    prompt_tokens: int,
    serial: int,
    chunk_chars: int,
    include_usage: bool,
) -> list[bytes]:
    """Events of a chat.completion.chunk stream, choices interleaved, ending in [DONE]."""
    base = {
        "id": f"chatcmpl-scripted-{serial}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "finish_reason": finish}
        return _sse({**base, "choices": [choice]})

    events = [b": keep-alive\n\n"]
    events += [chunk(i, {"role": "assistant", "content": ""}) for i in range(n)]
    completion = 0
    if reply.tool_name is not None:
        for i in range(n):
            head = {"index": 0, "id": f"call_scripted_{serial}_{i}", "type": "function"}
            head["function"] = {"name": reply.tool_name, "arguments": ""}
            events.append(chunk(i, {"tool_calls": [head]}))
            for piece in _pieces(reply.tool_arguments, chunk_chars):
                tool = {"index": 0, "function": {"arguments": piece}}
                events.append(chunk(i, {"tool_calls": [tool]}))
            events.append(chunk(i, {}, "tool_calls"))
            completion += _tokens(reply.tool_arguments)
    else:
        texts = [_pieces(choice_text(reply, i), chunk_chars) for i in range(n)]
        for position in range(max(len(t) for t in texts)):
            for i, pieces in enumerate(texts):
                if position < len(pieces) and pieces[position]:
                    events.append(chunk(i, {"content": pieces[position]}))
        events += [chunk(i, {}, "stop") for i in range(n)]
        completion = sum(_tokens(choice_text(reply, i)) for i in range(n))
    if include_usage:
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
        }
        events.append(_sse({**base, "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return events


def _tool_input(reply: Reply) -> Any:
    try:
        value = orjson.loads(reply.tool_arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def anthropic_message(reply: Reply, *, model: str, prompt_tokens: int, serial: int) -> bytes:
    if reply.tool_name is not None:
        content: list[dict[str, Any]] = [
            {
                "type": "tool_use",
                "id": f"toolu_scripted_{serial}",
                "name": reply.tool_name,
                "input": _tool_input(reply),
            }
        ]
        stop, output = "tool_use", _tokens(reply.tool_arguments)
    else:
        content = [{"type": "text", "text": reply.text}]
        stop, output = "end_turn", _tokens(reply.text)
    return orjson.dumps(
        {
            "id": f"msg_scripted_{serial}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": output},
        }
    )


def anthropic_stream(
    reply: Reply, *, model: str, prompt_tokens: int, serial: int, chunk_chars: int
) -> list[bytes]:
    """Events of a Messages API stream, from message_start to message_stop."""
    start: dict[str, Any] = {
        "id": f"msg_scripted_{serial}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": prompt_tokens, "output_tokens": 1},
    }
    events = [_sse({"type": "message_start", "message": start}, "message_start")]
    if reply.tool_name is not None:
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": f"toolu_scripted_{serial}",
            "name": reply.tool_name,
            "input": {},
        }
        deltas = [
            {"type": "input_json_delta", "partial_json": piece}
            for piece in _pieces(reply.tool_arguments, chunk_chars)
        ]
        stop, output = "tool_use", _tokens(reply.tool_arguments)
    else:
        block = {"type": "text", "text": ""}
        deltas = [
            {"type": "text_delta", "text": piece} for piece in _pieces(reply.text, chunk_chars)
        ]
        stop, output = "end_turn", _tokens(reply.text)
    events.append(
        _sse(
            {"type": "content_block_start", "index": 0, "content_block": block},
            "content_block_start",
        )
    )
    events.append(_sse({"type": "ping"}, "ping"))
    events += [
        _sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
        for delta in deltas
    ]
    events.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
    message_delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
        "usage": {"output_tokens": output},
    }
    events.append(_sse(message_delta, "message_delta"))
    events.append(_sse({"type": "message_stop"}, "message_stop"))
    return events
