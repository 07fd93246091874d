"""The SSE parser gives the same events however the byte stream is split."""

from __future__ import annotations

import random

import pytest

from bastion.upstream.sse import SSEError, SSEEvent, SSEParser

STREAM = (
    b": keep-alive\n\n"
    b'data: {"a":1}\n\n'
    b"event: content_block_delta\r\n"
    b'data: {"text":"caf\xc3\xa9 \\n"}\r\n\r\n'
    b": ping\n"
    b"data: line one\n"
    b"data: line two\n\n"
    b"data:no-space\n\n"
    b"data: [DONE]"
)
EXPECTED = [
    SSEEvent("", b'{"a":1}'),
    SSEEvent("content_block_delta", b'{"text":"caf\xc3\xa9 \\n"}'),
    SSEEvent("", b"line one\nline two"),
    SSEEvent("", b"no-space"),
    SSEEvent("", b"[DONE]"),
]


def _parse(pieces: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for piece in pieces:
        events += parser.feed(piece)
    return events + parser.close()


def test_whole_stream() -> None:
    """Comments are skipped, CRLF works, data lines join, the unterminated tail flushes."""
    assert _parse([STREAM]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_every_two_way_split(cut: int) -> None:
    """Cutting the stream at any single byte offset changes nothing."""
    assert _parse([STREAM[:cut], STREAM[cut:]]) == EXPECTED


def test_byte_at_a_time() -> None:
    """Feeding one byte per read (CR and LF in separate reads) changes nothing."""
    assert _parse([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_random_splits() -> None:
    """Random chunkings of the stream all parse the same."""
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 12)))
        pieces = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
        assert _parse(pieces) == EXPECTED


def test_event_without_data_is_not_dispatched() -> None:
    """An event name with no data line produces no event (as the SSE spec says)."""
    assert _parse([b"event: ping\n\n"]) == []


def test_overlong_line_is_refused() -> None:
    """A line beyond the limit raises instead of growing the buffer forever."""
    parser = SSEParser(max_line_bytes=16)
    with pytest.raises(SSEError):
        parser.feed(b"data: " + b"x" * 32)
