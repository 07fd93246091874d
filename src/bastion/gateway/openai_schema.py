"""The OpenAI chat-completions request as Bastion accepts it, and its translation.

Unknown top-level fields are ignored, not forwarded: only the parameters listed in
``FORWARDED`` reach the upstream, so a client cannot smuggle provider options past
the gateway. Only text content parts are accepted.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from bastion.errors import InvalidRequest
from bastion.upstream.base import ChatMessage

__all__ = [
    "FORWARDED",
    "ChatCompletionBody",
    "parse_chat_body",
    "parse_json_body",
    "validation_message",
]

M = TypeVar("M", bound=BaseModel)

FORWARDED = (
    "temperature",
    "top_p",
    "n",
    "stop",
    "max_tokens",
    "max_completion_tokens",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "user",
    "response_format",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "parallel_tool_calls",
)


_TEXT_PART = {
    "type": "object",
    "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
    "required": ["type", "text"],
}


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Annotated[
        str | list[dict[str, Any]] | None,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": _TEXT_PART},
                    {"type": "null"},
                ]
            }
        ),
    ] = None
    # Identifier-shaped only: free text here would reach the model unscanned.
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    tool_call_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,256}$")
    tool_calls: list[dict[str, Any]] | None = None

    @field_validator("content", mode="after")
    @classmethod
    def _text_parts_only(
        cls, value: str | list[dict[str, Any]] | None
    ) -> str | list[dict[str, Any]] | None:
        if isinstance(value, list):
            for part in value:
                if part.get("type") != "text" or not isinstance(part.get("text"), str):
                    raise ValueError("only text content parts are supported")
        return value

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(part["text"]) for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatCompletionBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: Annotated[str, Field(min_length=1, max_length=256)]
    messages: Annotated[list[Message], Field(min_length=1, max_length=2048)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    n: Annotated[int, Field(ge=1, le=16)] | None = None
    stop: str | list[str] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    seed: int | None = None
    user: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.@:+-]{1,256}$")
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    logit_bias: dict[str, float] | None = None
    parallel_tool_calls: bool | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None

    def params(self) -> dict[str, Any]:
        data = self.model_dump(include=set(FORWARDED), exclude_none=True)
        if isinstance(data.get("stop"), str):
            data["stop"] = [data["stop"]]
        if self.stream and self.stream_options is not None:
            data["stream_options"] = {"include_usage": self.stream_options.include_usage}
        return data

    def chat_messages(self) -> list[ChatMessage]:
        return [
            ChatMessage(
                role=m.role,
                content=m.text(),
                name=m.name,
                tool_call_id=m.tool_call_id,
                tool_calls=m.tool_calls,
            )
            for m in self.messages
        ]


def validation_message(exc: ValidationError) -> tuple[str, str | None]:
    """A message naming the first bad field (never echoing its value)."""
    first = exc.errors(include_url=False, include_input=False)[0]
    loc = ".".join(str(p) for p in first["loc"])
    if first["type"] == "json_invalid":
        return "Request body is not valid JSON.", None
    if first["type"] == "model_type" and not loc:
        return "Request body must be a JSON object.", None
    return f"Invalid value for '{loc}': {first['msg']}.", loc or None


def parse_json_body(model: type[M], raw: bytes) -> M:
    """``raw`` validated as ``model``, or :class:`InvalidRequest` naming the bad field."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        message, param = validation_message(exc)
        raise InvalidRequest(message, param=param) from None


def parse_chat_body(raw: bytes) -> ChatCompletionBody:
    return parse_json_body(ChatCompletionBody, raw)
