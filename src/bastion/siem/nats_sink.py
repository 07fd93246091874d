"""Audit records to NATS JetStream, each publish acknowledged, re-sends deduplicated.

:class:`NatsSink` publishes every record of a batch to one subject with JetStream and
waits for each ``PubAck``: the server acknowledges a message once the stream has
stored it (on its replicas, for a replicated stream), so ``deliver`` returning means
the batch is in the stream. The record's ``hash`` travels as the ``Nats-Msg-Id``
header, so a batch sent again after a failure is stored once: JetStream drops a
message whose id it has seen within the stream's ``duplicate_window`` (two minutes by
default; make it longer than the exporter's retry interval, or re-sends after it
are stored twice, which the at-least-once contract allows). An ``export_refused``
event without a usable hash is sent without an id.

Up to ``max_in_flight`` publishes are outstanding at once; their order in the stream
is normally the batch order, but the records' ``seq`` is the order to trust. With
``stream`` set, each publish carries ``Nats-Expected-Stream`` and the server refuses
it unless that stream holds the subject.

Failures (no server, connection lost, an ack that does not come within
``ack_timeout``, a refusal by JetStream) raise :class:`~bastion.siem.sinks.SinkError`
and close the connection; the next ``deliver`` connects again. The client never
reconnects in the background: a batch is confirmed on one connection or retried
whole. ``nats-py`` is imported on first connection only.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import ssl
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bastion.siem.sinks import Format, SinkError, check_format, check_seconds, render, sendable

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

__all__ = ["NatsSink", "check_subject"]

_TOKEN = re.compile(r"[\x21-\x7e]+")
_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_HASH = re.compile(r"[0-9a-f]{64}")


def check_subject(subject: str) -> str:
    """``subject`` if it is a literal NATS subject to publish to: dot-separated
    non-empty tokens of printable ASCII, no wildcards (``*``, ``>``), at most 255
    characters; ``ValueError`` otherwise."""
    tokens = subject.split(".") if isinstance(subject, str) else []
    if (
        not tokens
        or len(subject) > 255
        or not all(_TOKEN.fullmatch(t) for t in tokens)
        or "*" in subject
        or ">" in subject
    ):
        raise ValueError(
            "NATS subject must be dot-separated tokens of printable ASCII without "
            "spaces or wildcards (* >), e.g. bastion.audit.acme"
        )
    return subject


def _endpoint(server: str) -> str:
    """``host:port`` of a server URL, without any user or password in it."""
    parts = urlsplit(server if "://" in server else f"nats://{server}")
    try:
        port = parts.port or 4222
    except ValueError:
        raise ValueError("NATS server URLs must be nats://host:port or tls://host:port") from None
    if parts.scheme not in {"nats", "tls"} or not parts.hostname:
        raise ValueError("NATS server URLs must be nats://host:port or tls://host:port")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}"


async def _ignore_error(exc: Exception) -> None:
    """nats-py reports connection errors here; they surface through ``deliver``."""


class NatsSink:
    """Audit records to a JetStream subject, one acknowledged publish per record
    (module docstring)."""

    def __init__(
        self,
        servers: str | Sequence[str],
        subject: str,
        *,
        stream: str | None = None,
        format: Format = "jsonl",
        hostname: str = "-",
        tls: ssl.SSLContext | None = None,
        user_credentials: str | None = None,
        connect_timeout: float = 10.0,
        ack_timeout: float = 10.0,
        max_in_flight: int = 256,
    ) -> None:
        urls = [servers] if isinstance(servers, str) else list(servers)
        if not urls:
            raise ValueError("NatsSink needs at least one server URL")
        endpoints = [_endpoint(u) for u in urls]
        if stream is not None and not _STREAM_NAME.fullmatch(stream):
            raise ValueError("JetStream stream names are 1-255 of A-Z a-z 0-9 _ -")
        if type(max_in_flight) is not int or max_in_flight < 1:
            raise ValueError("max_in_flight must be a positive integer")
        self._servers = urls
        self._subject = check_subject(subject)
        self._stream = stream
        self._format = check_format(format)
        self._hostname = hostname
        self._tls = tls
        self._user_credentials = user_credentials
        self._connect_timeout = check_seconds(connect_timeout, "connect_timeout")
        self._ack_timeout = check_seconds(ack_timeout, "ack_timeout")
        self._max_in_flight = max_in_flight
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self.name = f"nats://{','.join(endpoints)}/{subject}"
        if format == "syslog":  # fail at start, not on the first record
            render({}, "syslog", hostname=hostname)

    def __repr__(self) -> str:
        return f"NatsSink({self.name!r}, stream={self._stream!r}, format={self._format!r})"

    def _message(self, record: Mapping[str, Any]) -> tuple[bytes, dict[str, str] | None]:
        rec = sendable(record)
        payload = render(rec, self._format, hostname=self._hostname).encode("utf-8")
        msg_id = rec["hash"]
        return payload, {"Nats-Msg-Id": msg_id} if _HASH.fullmatch(msg_id) else None

    async def deliver(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Publish every record and return once JetStream has acknowledged each;
        :class:`SinkError` otherwise (send the batch again later)."""
        if not records:
            return
        messages = [self._message(r) for r in records]
        import nats.errors

        step = "connect"
        try:
            js = await self._connect()
            step = "publish"
            for start in range(0, len(messages), self._max_in_flight):
                window = messages[start : start + self._max_in_flight]
                results = await asyncio.gather(
                    *(self._publish(js, payload, headers) for payload, headers in window),
                    return_exceptions=True,
                )
                for result in results:
                    if isinstance(result, BaseException):
                        raise result
        except (nats.errors.Error, OSError, TimeoutError, ssl.SSLError) as exc:
            await self._drop()
            raise SinkError(f"{self.name}: {step} failed: {self._cause(exc)}") from exc
        except BaseException:
            await self._drop()
            raise

    async def _publish(
        self, js: JetStreamContext, payload: bytes, headers: dict[str, str] | None
    ) -> None:
        await js.publish(
            self._subject,
            payload,
            timeout=self._ack_timeout,
            stream=self._stream,
            headers=headers,
        )

    async def _connect(self) -> JetStreamContext:
        if self._client is not None and self._js is not None and self._client.is_connected:
            return self._js
        await self._drop()
        import nats

        async with asyncio.timeout(self._connect_timeout * len(self._servers)):
            client = await nats.connect(
                servers=self._servers,
                connect_timeout=max(1, math.ceil(self._connect_timeout)),
                allow_reconnect=False,
                max_reconnect_attempts=0,
                error_cb=_ignore_error,
                tls=self._tls,
                user_credentials=self._user_credentials,
                name="bastion-siem",
            )
        self._client = client
        self._js = client.jetstream(timeout=self._ack_timeout)
        return self._js

    @staticmethod
    def _cause(exc: BaseException) -> str:
        import nats.js.errors

        cause = type(exc).__name__
        if isinstance(exc, nats.js.errors.APIError) and exc.description:
            cause += f" ({exc.err_code}: {exc.description})"
        elif isinstance(exc, OSError) and exc.strerror:
            cause += f" ({exc.strerror})"
        return cause

    async def _drop(self) -> None:
        client, self._client, self._js = self._client, None, None
        if client is not None and not client.is_closed:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._connect_timeout):
                    await client.close()

    async def aclose(self) -> None:
        """Close the connection; a later ``deliver`` would open a new one."""
        await self._drop()
