"""Tool calls in the chat path: their text for the scanners, a scanner's redaction put
back into the arguments, and pseudonyms restored for the caller's own tools."""

from __future__ import annotations

import orjson

from bastion.dlp.operators import Pseudonyms, restore
from bastion.scanners import Decision, Verdict

__all__ = ["restore_tool_calls", "rewritten_arguments", "tool_call_texts"]


def tool_call_texts(tool_calls: list[dict[str, object]] | None) -> list[str]:
    texts: list[str] = []
    for call in tool_calls or ():
        function = call.get("function")
        if isinstance(function, dict):
            texts.append(f"{function.get('name', '')} {function.get('arguments', '')}")
    return texts


def rewritten_arguments(verdict: Verdict, name: str, arguments: object) -> str | None:
    """The arguments of a redacted ``"<name> <arguments>"`` scan, when only the ``pii``
    scanner redacted, the name is untouched and the result is still JSON; else None."""
    redactors = {r.scanner for r in verdict.results if r.decision is Decision.REDACT}
    prefix = name + " "
    if redactors != {"pii"} or not isinstance(arguments, str):
        return None
    if not verdict.text.startswith(prefix):
        return None
    rewritten = verdict.text[len(prefix) :]
    try:
        orjson.loads(rewritten)
    except orjson.JSONDecodeError:
        return None
    return rewritten


def restore_tool_calls(tool_calls: list[dict[str, object]] | None, pseudonyms: Pseudonyms) -> None:
    """Placeholders in tool-call arguments (a JSON text) back to the caller's values,
    JSON-escaped, in place, after the calls were scanned: the caller's own tools get
    the caller's own data."""
    if not pseudonyms.by_placeholder:
        return
    for call in tool_calls or ():
        function = call.get("function")
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            function["arguments"] = restore(function["arguments"], pseudonyms, escape=_json_inner)


def _json_inner(value: str) -> str:
    """``value`` as it appears inside a JSON string (quotes and backslashes escaped)."""
    return orjson.dumps(value).decode()[1:-1]
