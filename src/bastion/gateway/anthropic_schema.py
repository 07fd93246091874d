"""Anthropic Messages requests as Bastion accepts them, translated to ChatInput."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bastion.errors import InvalidRequest
from bastion.gateway.interaction import ChatInput
from bastion.gateway.openai_schema import parse_json_body
from bastion.upstream.base import ChatMessage

__all__ = ["MessagesBody", "parse_messages_body"]

_BLOCK_TYPES = frozenset({"text", "tool_use", "tool_result"})


def _obj(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


_TEXT = _obj({"type": {"const": "text"}, "text": {"type": "string"}}, ["type", "text"])
_TOOL_USE = _obj(
    {
        "type": {"const": "tool_use"},
        "id": {"type": "string"},
        "name": {"type": "string"},
        "input": {"type": "object"},
    },
    ["type", "id", "name", "input"],
)
_TOOL_RESULT = _obj(
    {
        "type": {"const": "tool_result"},
        "tool_use_id": {"type": "string"},
        "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _TEXT}]},
    },
    ["type", "tool_use_id"],
)


def _turn(role: str, block: dict[str, Any]) -> dict[str, Any]:
    blocks = {"type": "array", "items": {"anyOf": [_TEXT, block]}}
    return _obj(
        {"role": {"const": role}, "content": {"anyOf": [{"type": "string"}, blocks]}},
        ["role", "content"],
    )


def _message_schema(schema: dict[str, Any]) -> None:
    """Say per role which blocks are valid, as the validators below enforce."""
    schema.clear()
    schema["anyOf"] = [_turn("user", _TOOL_RESULT), _turn("assistant", _TOOL_USE)]


class AnthropicMessage(BaseModel):
    """A user turn (text, tool_result) or an assistant turn (text, tool_use)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_message_schema)
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]

    @field_validator("content", mode="after")
    @classmethod
    def _supported_blocks(cls, value: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
        if isinstance(value, list):
            for block in value:
                kind = block.get("type")
                if not isinstance(kind, str) or kind not in _BLOCK_TYPES:
                    raise ValueError("only text, tool_use and tool_result blocks are supported")
                if block["type"] == "text" and not isinstance(block.get("text"), str):
                    raise ValueError("a text block needs a string 'text'")
        return value


class MessagesBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: Annotated[str, Field(min_length=1, max_length=256)]
    max_tokens: Annotated[int, Field(ge=1)]
    messages: Annotated[list[AnthropicMessage], Field(min_length=1, max_length=2048)]
    system: str | list[dict[str, Any]] | None = None
    stream: bool = False
    temperature: Annotated[float, Field(ge=0, le=1)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    stop_sequences: list[str] | None = None
    tools: list[dict[str, Any]] | None = None

    def to_chat_input(self) -> ChatInput:
        messages: list[ChatMessage] = []
        if self.system:
            messages.append(ChatMessage(role="system", content=_text_of(self.system)))
        for message in self.messages:
            messages.extend(_translate(message))
        params: dict[str, Any] = {"max_tokens": self.max_tokens}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.top_p is not None:
            params["top_p"] = self.top_p
        if self.stop_sequences:
            params["stop"] = list(self.stop_sequences)
        if self.stream:
            params["stream_options"] = {"include_usage": True}
        tools = None
        if self.tools:
            tools = [
                {
                    "type": "function",
                    "function": {
                        "name": str(tool.get("name", "")),
                        "description": str(tool.get("description", "")),
                        "parameters": tool.get("input_schema", {"type": "object"}),
                    },
                }
                for tool in self.tools
            ]
        return ChatInput(
            model=self.model,
            messages=messages,
            stream=self.stream,
            params=params,
            tools=tools,
            include_usage=True,
        )


def _text_of(content: str | list[dict[str, Any]] | Any) -> str:
    """The text of a content value: a string, or a list of blocks (text ones kept)."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise InvalidRequest("Content must be a string or a list of content blocks.")
    texts = [block.get("text") for block in content if block.get("type") == "text"]
    if not all(isinstance(text, str) for text in texts):
        raise InvalidRequest("A text block needs a string 'text'.")
    return "".join(str(text) for text in texts)


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        raise InvalidRequest(
            "A tool_use input holds values that cannot be forwarded "
            "(unpaired surrogate escapes, or integers beyond 64 bits)."
        ) from None


def _translate(message: AnthropicMessage) -> list[ChatMessage]:
    if isinstance(message.content, str):
        return [ChatMessage(role=message.role, content=message.content)]
    out: list[ChatMessage] = []
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for block in message.content:
        kind = block["type"]
        if kind == "text":
            texts.append(block["text"])
        elif kind == "tool_use" and message.role == "assistant":
            tool_calls.append(
                {
                    "id": str(block.get("id", "")),
                    "type": "function",
                    "function": {
                        "name": str(block.get("name", "")),
                        "arguments": _json_text(block.get("input", {})),
                    },
                }
            )
        elif kind == "tool_result" and message.role == "user":
            out.append(
                ChatMessage(
                    role="tool",
                    content=_text_of(block.get("content", "")),
                    tool_call_id=str(block.get("tool_use_id", "")),
                )
            )
        else:
            raise InvalidRequest(f"A {kind} block is not valid in a {message.role} message.")
    if texts or tool_calls:
        out.append(
            ChatMessage(role=message.role, content="".join(texts), tool_calls=tool_calls or None)
        )
    return out


def parse_messages_body(raw: bytes) -> MessagesBody:
    return parse_json_body(MessagesBody, raw)
