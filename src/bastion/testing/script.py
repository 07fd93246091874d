"""What the scripted stand-in model answers: a pure function of the conversation.

See :mod:`bastion.testing.scripted_upstream` for the directives. This module only
decides the :class:`Reply`; rendering it as OpenAI or Anthropic JSON/SSE is elsewhere.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

__all__ = ["FIXED_REPLY", "LEAK_TRIGGERS", "Reply", "decide"]

LEAK_TRIGGERS = ("system prompt", "ignore previous instructions", "repeat everything above")
FIXED_REPLY = (
    "This is the scripted upstream's fixed benchmark reply. It is the same for every "
    "request so that measurements compare the gateway and not the stand-in model. "
) * 7  # about 1 KB


@dataclass(frozen=True, slots=True)
class Reply:
    """The scripted answer: text, or a tool call, or a failure; after ``delay`` seconds."""

    text: str = ""
    tool_name: str | None = None
    tool_arguments: str = "{}"
    fail_status: int | None = None
    garbage: bool = False
    delay: float = 0.0


def decide(user_text: str, system_text: str, *, tool_result: str | None = None) -> Reply:
    """The reply to the last user turn ``user_text`` given the joined system prompt.

    ``tool_result`` is set when the conversation ends with a tool result instead.
    """
    delay = 0.0
    text = user_text.lstrip()
    if text.startswith("SLEEP:"):
        amount, _, text = text[6:].partition(" ")
        delay = max(0, int(amount or 0)) / 1000
        text = text.lstrip()
    if tool_result is not None:
        return Reply(text=f"Tool said: {tool_result}", delay=delay)
    if text.startswith("FAIL:"):
        status = int(text[5:].split(maxsplit=1)[0] or 500)
        return Reply(fail_status=status, delay=delay)
    if text.startswith("GARBAGE"):
        return Reply(garbage=True, delay=delay)
    if text.startswith("ECHO:"):
        return Reply(text=text[5:].replace("{SYSTEM}", system_text), delay=delay)
    if text.startswith("B64:"):
        return Reply(text=_b64_decode(text[4:].strip()), delay=delay)
    if text.startswith("TOOL:"):
        name, _, arguments = text[5:].replace("{SYSTEM}", _json_safe(system_text)).partition(":")
        return Reply(tool_name=name, tool_arguments=arguments or "{}", delay=delay)
    lowered = text.lower()
    if any(trigger in lowered for trigger in LEAK_TRIGGERS):
        return Reply(text=system_text, delay=delay)
    return Reply(text=f"Happy to help. You said: {text.rstrip()}", delay=delay)


def _json_safe(text: str) -> str:
    """``text`` escaped for splicing inside a JSON string literal."""
    return json.dumps(text)[1:-1]


def _b64_decode(data: str) -> str:
    """What a helpful model does with base64: decode it (here, to smuggle a secret out)."""
    try:
        return base64.b64decode(data, validate=True).decode("utf-8", "replace")
    except ValueError:
        return "That is not valid base64."
