"""RFC 5424 syslog over TCP or TLS with RFC 6587 octet-counting framing.

Syslog over TCP has no application-level acknowledgement, so :class:`SyslogSink`
makes the end of the connection the acknowledgement. Each batch goes over a
connection of its own:

1. connect (and, with TLS, handshake) within ``connect_timeout``;
2. write every framed message of the batch;
3. with TLS, send the TLS ``close_notify``; then half-close TCP (``shutdown(SHUT_WR)``,
   a FIN after the last byte);
4. read until the receiver closes its side. A receiver (rsyslog's imtcp, syslog-ng's
   network source) closes a session when a read returns end-of-stream, which TCP
   delivers only after every byte before the FIN has been read: that close is the
   proof that the receiver holds the whole batch;
5. check that nothing is left unsent: asyncio's write buffer is empty and, on Linux,
   the kernel's send queue too (``SIOCOUTQ``: every byte and the FIN acknowledged by
   the peer). A receiver that closes early (it is shutting down, say) with bytes
   still in flight would answer them with a reset; this check turns that race into a
   :class:`~bastion.siem.sinks.SinkError` instead of a silent loss.

Steps 2-5 run within ``timeout``. A reset, a timeout, a failed handshake or any other
error raises :class:`~bastion.siem.sinks.SinkError` (host, port, error type) and the
caller sends the whole batch again: a receiver restarted mid-batch sees duplicates,
never a gap. TLS runs over ``ssl.MemoryBIO`` on a plain TCP stream, because asyncio's
TLS transport cannot half-close; certificate and host name verification follow the
``ssl.SSLContext`` (:func:`ssl.create_default_context` verifies both), against
``server_hostname`` (default: ``host``).

The guarantee ends where the receiver's does: a message that rsyslog has read is in
its main queue, which is in memory by default. Give the receiver a disk-assisted
queue (``queue.type="LinkedList" queue.filename=... queue.saveOnShutdown="on"``) so
that a restart of the receiver keeps what it had acknowledged, and a
``maxMessageSize`` above the largest record (64k is ample; JSON formats with many
verdicts are the largest).

Formats other than ``syslog`` travel as the MSG of an RFC 5424 message with the same
header (PRI, timestamp, hostname, app name, MSGID = outcome) and no structured data.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
import struct
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from bastion.siem.formats import frame_octet_counting
from bastion.siem.sinks import Format, SinkError, check_format, check_seconds, render, sendable

__all__ = ["SyslogSink"]

_READ_CHUNK = 65536
_PRINTABLE = re.compile(r"[\x21-\x7e]+")


def _token(value: str, limit: int, name: str) -> str:
    if not isinstance(value, str) or len(value) > limit or not _PRINTABLE.fullmatch(value):
        raise ValueError(f"syslog {name} must be 1-{limit} printable ASCII characters")
    return value


def _default_hostname() -> str:
    name = socket.gethostname()
    return name if _PRINTABLE.fullmatch(name) and len(name) <= 255 else "-"


def _unsent_bytes(writer: asyncio.StreamWriter) -> int:
    """Bytes written but not yet acknowledged by the peer: asyncio's buffer plus, on
    Linux, the kernel's send queue (including an unacknowledged FIN)."""
    pending = writer.transport.get_write_buffer_size()
    sock = writer.get_extra_info("socket")
    if sys.platform == "linux" and sock is not None:
        import fcntl
        import termios

        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
        pending += struct.unpack("i", raw)[0]
    return pending


class _TlsOverStream:
    """TLS on ``ssl.MemoryBIO`` over a plain stream, so that TCP can still half-close."""

    def __init__(self, context: ssl.SSLContext, server_hostname: str) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(
            self._incoming, self._outgoing, server_side=False, server_hostname=server_hostname
        )

    async def handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                writer.write(self._outgoing.read())
                await writer.drain()
                data = await reader.read(_READ_CHUNK)
                if not data:
                    raise ConnectionResetError(
                        "connection closed during the TLS handshake"
                    ) from None
                self._incoming.write(data)
            else:
                writer.write(self._outgoing.read())
                return

    def seal(self, data: bytes) -> bytes:
        self._tls.write(data)
        return self._outgoing.read()

    def close_notify(self) -> bytes:
        with contextlib.suppress(ssl.SSLWantReadError):  # the peer's answer is not needed
            self._tls.unwrap()
        return self._outgoing.read()


class SyslogSink:
    """Audit records as RFC 5424 syslog over TCP (``tls=None``) or TLS, one
    connection per batch, confirmed by the receiver's close (module docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None,
        format: Format = "syslog",
        app_name: str = "bastion",
        hostname: str | None = None,
        facility: int = 13,
        server_hostname: str | None = None,
        connect_timeout: float = 10.0,
        timeout: float = 60.0,
    ) -> None:
        if not isinstance(host, str) or not host:
            raise ValueError("syslog host must be a non-empty string")
        if type(port) is not int or not 1 <= port <= 65535:
            raise ValueError("syslog port must be an integer 1-65535")
        if type(facility) is not int or not 0 <= facility <= 23:
            raise ValueError("syslog facility must be an integer 0-23")
        self._host = host
        self._port = port
        self._tls = tls
        self._server_hostname = server_hostname or host
        self._format = check_format(format)
        self._app_name = _token(app_name, 48, "app_name")
        self._hostname = _token(hostname or _default_hostname(), 255, "hostname")
        self._facility = facility
        self._connect_timeout = check_seconds(connect_timeout, "connect_timeout")
        self._timeout = check_seconds(timeout, "timeout")
        scheme = "syslog+tls" if tls is not None else "syslog+tcp"
        self.name = f"{scheme}://{host}:{port}"

    def __repr__(self) -> str:
        return f"SyslogSink({self.name!r}, format={self._format!r})"

    def message(self, record: Mapping[str, Any]) -> str:
        """The RFC 5424 message this sink sends for ``record`` (unframed)."""
        rec = sendable(record)
        header = render(
            rec, "syslog", hostname=self._hostname, app_name=self._app_name, facility=self._facility
        )
        if self._format == "syslog":
            return header
        # PRI+VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID: six tokens without spaces
        head = " ".join(header.split(" ", 6)[:6])
        return f"{head} - {render(rec, self._format)}"

    async def deliver(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Send the batch on a new connection and return once the receiver has read
        all of it; :class:`SinkError` otherwise (send the batch again later)."""
        if not records:
            return
        payload = b"".join(frame_octet_counting(self.message(r)) for r in records)
        writer: asyncio.StreamWriter | None = None
        step = "connect"
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(self._host, self._port)
                session = None
                if self._tls is not None:
                    step = "TLS handshake"
                    session = _TlsOverStream(self._tls, self._server_hostname)
                    await session.handshake(reader, writer)
            step = "delivery"
            async with asyncio.timeout(self._timeout):
                await self._send(reader, writer, payload, session)
        except (OSError, ssl.SSLError, TimeoutError, EOFError) as exc:
            raise SinkError(self._failure(step, exc)) from exc
        finally:
            if writer is not None:
                writer.transport.abort()

    async def _send(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        payload: bytes,
        session: _TlsOverStream | None,
    ) -> None:
        if session is not None:
            payload = session.seal(payload) + session.close_notify()
        writer.write(payload)
        writer.write_eof()
        await writer.drain()
        while await reader.read(_READ_CHUNK):
            pass  # the receiver sends nothing we need (TLS session tickets at most)
        if _unsent_bytes(writer):
            raise ConnectionResetError("receiver closed before acknowledging every byte")

    def _failure(self, step: str, exc: BaseException) -> str:
        cause = type(exc).__name__
        if isinstance(exc, ssl.SSLCertVerificationError):
            cause += f" ({exc.verify_message})"
        elif isinstance(exc, ssl.SSLError) and exc.reason:
            cause += f" ({exc.reason})"
        elif isinstance(exc, OSError) and exc.strerror:
            cause += f" ({exc.strerror})"
        return f"{self.name}: {step} failed: {cause}"

    async def aclose(self) -> None:
        """Nothing stays open between batches; present for the :class:`Sink` contract."""
