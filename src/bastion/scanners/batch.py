"""The ``bastion scan`` contract: JSON lines in, one JSON verdict line out per input.

:func:`scan_lines` is an async generator, so it can read a file, stdin or a socket
without blocking the loop; a sync caller wraps it with ``asyncio.run``. This contract
is stable.

Input, one JSON object per line (blank lines are skipped)::

    {"id": "q1", "text": "...", "role": "user"}

``role`` is ``user`` (default), ``tool``, ``document`` (INPUT stage, ``context.role``
set accordingly) or ``assistant`` (OUTPUT stage). ``id`` is a string, an integer or
null and is echoed back. Output, one JSON object per input line, in order::

    {"id": "q1", "decision": "allow"|"redact"|"block", "score": 0.0,
     "findings": [{"scanner", "type", "start", "end", "score"}], "text": "..."}

``text`` is the redacted text when the decision is ``redact``, else the input text.
A malformed line yields ``{"id": <id or null>, "error": "<what is wrong>",
"decision": "block"}``; the message names the field, never its content, and
processing continues with the next line.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

import orjson

from bastion.scanners.base import Decision, ScanContext, Stage
from bastion.scanners.pipeline import Pipeline, Verdict

__all__ = ["ROLES", "scan_lines"]

ROLES = ("assistant", "document", "tool", "user")


class _BadLine(ValueError):
    def __init__(self, message: str, line_id: str | int | None) -> None:
        super().__init__(message)
        self.line_id = line_id


def _parse(line: str) -> tuple[str | int | None, str, str]:
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise _BadLine("line is not valid JSON", None) from None
    if not isinstance(data, dict):
        raise _BadLine("line must be a JSON object", None)
    line_id = data.get("id")
    if isinstance(line_id, bool) or not isinstance(line_id, str | int | None):
        raise _BadLine("field 'id' must be a string, an integer or null", None)
    if "text" not in data:
        raise _BadLine("field 'text' is missing", line_id)
    text = data["text"]
    if not isinstance(text, str):
        raise _BadLine("field 'text' must be a string", line_id)
    role = data.get("role", "user")
    if role not in ROLES:
        raise _BadLine(f"field 'role' must be one of {', '.join(ROLES)}", line_id)
    return line_id, text, role


def _dump(obj: dict[str, Any]) -> str:
    return orjson.dumps(obj).decode()


def _render(line_id: str | int | None, text: str, verdict: Verdict) -> str:
    findings = [
        {"scanner": r.scanner, "type": f.type, "start": f.start, "end": f.end, "score": f.score}
        for r in verdict.results
        if r.decision is not Decision.ALLOW
        for f in r.findings
    ]
    return _dump(
        {
            "id": line_id,
            "decision": verdict.decision.label,
            "score": verdict.score,
            "findings": findings,
            "text": verdict.text if verdict.decision is Decision.REDACT else text,
        }
    )


async def _iterate(lines: AsyncIterable[str] | Iterable[str]) -> AsyncIterator[str]:
    if isinstance(lines, AsyncIterable):
        async for line in lines:
            yield line
    else:
        for line in lines:
            yield line


async def scan_lines(
    lines: AsyncIterable[str] | Iterable[str], pipeline: Pipeline
) -> AsyncIterator[str]:
    """Yield one JSON verdict line (no trailing newline) per non-blank input line."""
    async for raw in _iterate(lines):
        if not raw.strip():
            continue
        try:
            line_id, text, role = _parse(raw)
        except _BadLine as exc:
            yield _dump({"id": exc.line_id, "error": str(exc), "decision": "block"})
            continue
        stage = Stage.OUTPUT if role == "assistant" else Stage.INPUT
        context = ScanContext(
            stage=stage, role=role, request_id="" if line_id is None else str(line_id)
        )
        verdict = await pipeline.run(stage, text, context)
        yield _render(line_id, text, verdict)
