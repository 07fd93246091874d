"""The ``bastion scan`` JSON-lines contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from bastion.scanners import scan_lines

from .scanner_helpers import load_vectors, make_pipeline

SECRET = "".join(load_vectors()["positive"][0]["parts"][1:3])


async def _scan(lines: Any) -> list[dict[str, Any]]:
    return [orjson.loads(line) async for line in scan_lines(lines, make_pipeline())]


async def test_allow_redact_and_block_lines() -> None:
    """Each line gets a decision; redact returns the redacted text, others the input."""
    out = await _scan(
        [
            '{"id": 1, "text": "hello"}',
            orjson.dumps({"id": "r", "text": "a\u200bb", "role": "document"}).decode(),
            orjson.dumps({"id": "b", "text": f"key {SECRET}", "role": "tool"}).decode(),
            orjson.dumps({"id": "o", "text": f"key {SECRET}", "role": "assistant"}).decode(),
        ]
    )
    assert [(o["id"], o["decision"]) for o in out] == [
        (1, "allow"),
        ("r", "redact"),
        ("b", "block"),
        ("o", "redact"),
    ]
    first = {**out[0], "score": 0.0}
    assert first == {"id": 1, "decision": "allow", "score": 0.0, "findings": [], "text": "hello"}
    assert 0.0 <= out[0]["score"] < 0.5  # the injection scanner's calibrated score
    assert out[1]["text"] == "ab"  # invisible characters are deleted, not marked
    assert out[2]["text"] == f"key {SECRET}"
    assert out[3]["text"] == "key [REDACTED:aws_access_key_id]"
    assert out[2]["findings"] == [
        {"scanner": "secrets", "type": "aws_access_key_id", "start": 4, "end": 24, "score": 1.0}
    ]


@pytest.mark.parametrize(
    ("line", "line_id", "message"),
    [
        ("{not json", None, "not valid JSON"),
        ("[1, 2]", None, "JSON object"),
        ('{"id": 7}', 7, "'text' is missing"),
        ('{"id": "x", "text": 5}', "x", "'text' must be a string"),
        ('{"id": "x", "text": "t", "role": "system"}', "x", "'role' must be one of"),
        ('{"id": [1], "text": "t"}', None, "'id' must be"),
        ('{"id": true, "text": "t"}', None, "'id' must be"),
    ],
)
async def test_malformed_lines_block_with_a_clear_error(
    line: str, line_id: Any, message: str
) -> None:
    """A bad line yields an error object that blocks and names the problem."""
    (out,) = await _scan([line])
    assert out["id"] == line_id and out["decision"] == "block"
    assert message in out["error"]


async def test_error_messages_hold_no_content() -> None:
    """The error never echoes the line's text."""
    (out,) = await _scan(['{"id": 1, "text": "TOPSECRET", "role": "TOPSECRET"}'])
    assert "TOPSECRET" not in orjson.dumps(out).decode()


async def test_processing_continues_after_errors_and_skips_blank_lines() -> None:
    """Blank lines are skipped and a bad line does not stop the batch."""
    out = await _scan(["", "nope", "   \n", '{"text": "fine"}'])
    assert [o["decision"] for o in out] == ["block", "allow"]
    assert out[1]["id"] is None


async def test_async_iterables_are_accepted() -> None:
    """Lines may come from an async iterator (a socket, an async file)."""

    async def lines() -> AsyncIterator[str]:
        yield '{"id": 1, "text": "hi"}\n'

    assert [o["decision"] for o in await _scan(lines())] == ["allow"]
