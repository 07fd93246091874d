"""What the scripted stand-in model answers: a pure function of the conversation.

See :mod:`bastion.testing.scripted_upstream` for the directives. This module only
decides the :class:`Reply`; rendering it as OpenAI or Anthropic JSON/SSE is elsewhere.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, replace
from urllib.parse import quote

__all__ = ["FIXED_REPLY", "LEAK_TRIGGERS", "Reply", "decide", "fill", "unwrap"]

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
    drip: float = 0.0  # seconds between stream events ("DRIP:<ms> " prefix)


def decide(user_text: str, system_text: str, *, tool_result: str | None = None) -> Reply:
    """The reply to the last user turn ``user_text`` given the joined system prompt.

    ``tool_result`` is set when the conversation ends with a tool result instead.
    """
    delay = 0.0
    text = user_text.lstrip()
    drip = 0.0
    if text.startswith("DRIP:"):
        amount, _, text = text[5:].partition(" ")
        drip = max(0, int(amount or 0)) / 1000
        text = text.lstrip()
    if text.startswith("SLEEP:"):
        amount, _, text = text[6:].partition(" ")
        delay = max(0, int(amount or 0)) / 1000
        text = text.lstrip()
    if drip:
        return replace(decide(text, system_text, tool_result=tool_result), drip=drip)
    if tool_result is not None:
        data = unwrap(tool_result)
        order = data.partition("OBEY:")[2].strip()
        if order:  # an indirect injection the stand-in falls for, spotlight or not
            return decide(order, system_text)
        return Reply(text=f"Tool said: {data}", delay=delay)
    if text.startswith("FAIL:"):
        status = int(text[5:].split(maxsplit=1)[0] or 500)
        return Reply(fail_status=status, delay=delay)
    if text.startswith("GARBAGE"):
        return Reply(garbage=True, delay=delay)
    if text.startswith("ECHO:"):
        return Reply(text=fill(text[5:], system_text), delay=delay)
    if text.startswith("B64:"):
        return Reply(text=_b64_decode(text[4:].strip()), delay=delay)
    if text.startswith("TOOL:"):
        name, _, arguments = text[5:].replace("{SYSTEM}", _json_safe(system_text)).partition(":")
        return Reply(tool_name=name, tool_arguments=arguments or "{}", delay=delay)
    lowered = text.lower()
    if any(trigger in lowered for trigger in LEAK_TRIGGERS):
        return Reply(text=system_text, delay=delay)
    return Reply(text=f"Happy to help. You said: {text.rstrip()}", delay=delay)


_WRAPPED = re.compile(r"<<untrusted:[0-9a-f]+>>\n?(.*?)\n?<</untrusted:[0-9a-f]+>>", re.DOTALL)
_CANARY = re.compile(r"bst-c-[0-9a-f]{24}")


def unwrap(text: str) -> str:
    """Spotlighted content as the model reads it: boundary and datamarks taken off."""
    text = _WRAPPED.sub(lambda m: m.group(1), text)
    return text.replace("\u02c6\n", "\n").replace("\u02c6", " ")


def fill(text: str, system_text: str) -> str:
    """Expand ``{SYSTEM}``, ``{SYSTEM_URL}``, ``{SYSTEM_B64}``, ``{CANARY}``,
    ``{CANARY_HEAD}`` (its first 14 characters), ``{CANARY_B64}`` and ``{CANARY_HEX}``
    from the system prompt the stand-in received."""
    found = _CANARY.search(system_text)
    canary = found.group() if found else ""
    values = {
        "{SYSTEM_URL}": quote(system_text, safe=""),
        "{SYSTEM_B64}": base64.b64encode(system_text.encode()).decode(),
        "{SYSTEM}": system_text,
        "{CANARY_B64}": base64.b64encode(canary.encode()).decode(),
        "{CANARY_HEX}": canary.encode().hex(),
        "{CANARY_HEAD}": canary[:14],  # a partial leak: prefix and eight digits
        "{CANARY}": canary,
    }
    for name, value in values.items():
        text = text.replace(name, value)
    return text


def _json_safe(text: str) -> str:
    """``text`` escaped for splicing inside a JSON string literal."""
    return json.dumps(text)[1:-1]


def _b64_decode(data: str) -> str:
    """What a helpful model does with base64: decode it (here, to smuggle a secret out)."""
    try:
        return base64.b64decode(data, validate=True).decode("utf-8", "replace")
    except ValueError:
        return "That is not valid base64."
