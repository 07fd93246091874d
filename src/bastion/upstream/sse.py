"""Incremental Server-Sent Events parser that tolerates any split of the byte stream.

Feed it whatever the socket delivered; it returns the events completed so far. Lines
end in LF or CRLF (a lone CR is not treated as a line end), ``:`` comment lines
(keep-alives) are skipped, multiple ``data:`` lines of one event join with LF, and an
event still open at end of stream is delivered by :meth:`SSEParser.close`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEError", "SSEEvent", "SSEParser"]

MAX_LINE_BYTES = 8 * 1024 * 1024


class SSEError(ValueError):
    """The stream is not SSE we can parse (for now: a line beyond the size limit)."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: its ``event:`` name ("" when absent) and raw data bytes."""

    event: str
    data: bytes


class SSEParser:
    """Turns arbitrary byte chunks into :class:`SSEEvent` objects."""

    __slots__ = ("_buffer", "_data", "_event", "_max_line")

    def __init__(self, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._buffer = b""
        self._event = ""
        self._data: bytes | None = None
        self._max_line = max_line_bytes

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume ``chunk`` and return the events it completed, in order."""
        buffer = self._buffer + chunk if self._buffer else chunk
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        if len(self._buffer) > self._max_line:
            raise SSEError("SSE line too long")
        events: list[SSEEvent] = []
        for line in lines:
            self._line(line, events)
        return events

    def close(self) -> list[SSEEvent]:
        """Flush at end of stream: a last unterminated line and an undispatched event."""
        events: list[SSEEvent] = []
        if self._buffer:
            self._line(self._buffer, events)
            self._buffer = b""
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[SSEEvent]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.startswith(b"data: "):  # the common case, first
            value = line[6:]
            self._data = value if self._data is None else self._data + b"\n" + value
            return
        if not line:
            if self._data is not None:
                events.append(SSEEvent(self._event, self._data))
            self._event = ""
            self._data = None
            return
        if line[0] == 0x3A:  # ":" starts a comment / keep-alive
            return
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data = value if self._data is None else self._data + b"\n" + value
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        # "id" and "retry" do not matter for a single request/response stream.
