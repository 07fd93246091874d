"""Delivery of exported audit records to a SIEM: the :class:`Sink` contract and rendering.

A sink takes batches of exported audit records (lines of
:func:`bastion.audit.export_jsonl` as dicts) and delivers them over one transport:
:class:`~bastion.siem.syslog_sink.SyslogSink` (RFC 5424 over TCP or TLS) and
:class:`~bastion.siem.nats_sink.NatsSink` (NATS JetStream). The contract is
at-least-once:

* ``deliver(records)`` returns only when every record of the batch is confirmed as far
  as the transport allows (the confirmation each transport uses is in its module
  docstring); otherwise it raises :class:`SinkError` and the caller delivers the same
  batch again later, from its persisted cursor. Duplicates are possible, losses are
  not; each record's ``hash`` (64 hex digits, unique) is its dedupe id.
* :class:`SinkError` names the cause (transport, host and port or subject, error
  type), never record content.

:func:`render` turns one record into text in one of :data:`FORMATS`. A record that
:func:`~bastion.siem.formats.safe_record` refuses must not block the stream forever
(the caller would retry it for ever), so it is replaced by an ``export_refused`` event
that keeps what can be kept of its ``ts``, ``tenant_id``, ``request_id``, ``hash`` and
``seq`` and names the refused field (never its value) in ``extra.refused_field``.
Fields that are themselves unusable take fixed placeholders: ``ts`` the Unix epoch,
strings ``"unknown"``, ``seq`` 1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, get_args

import orjson

from bastion.siem.formats import safe_record, to_cef, to_jsonl, to_syslog
from bastion.siem.ocsf import to_ocsf

__all__ = ["FORMATS", "Format", "Sink", "SinkError", "refused_event", "render"]

Format = Literal["jsonl", "cef", "syslog", "ocsf"]
FORMATS: tuple[Format, ...] = get_args(Format)
"""The formats a sink can send, one per :mod:`bastion.siem.formats` function."""

REFUSED_OUTCOME = "export_refused"
_EPOCH_TS = "1970-01-01T00:00:00+00:00"
_FIELD = re.compile(r"field '([a-z_]{1,32})'")


class SinkError(Exception):
    """A batch was not confirmed delivered; deliver the same batch again later. The
    message names the transport, the destination and the error type, never a record."""


class Sink(Protocol):
    """Delivers batches of exported audit records to a SIEM, at least once."""

    name: str
    """The destination, for logs and metrics: ``syslog://host:port``, ``nats://...``."""

    async def deliver(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Return once every record is confirmed delivered, else raise
        :class:`SinkError`; the caller then retries the same batch."""
        ...

    async def aclose(self) -> None:
        """Release connections; the sink is not used afterwards."""
        ...


def check_seconds(value: float, name: str) -> float:
    """``value`` as a positive, finite number of seconds, else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite: a sink never waits for ever")
    return float(value)


def check_format(format: str) -> Format:
    """``format`` if it is one of :data:`FORMATS`, else ``ValueError`` listing them."""
    for known in FORMATS:
        if format == known:
            return known
    raise ValueError(f"SIEM format must be one of {', '.join(FORMATS)}, not {format!r}")


def _string(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    return value if isinstance(value, str) and value else "unknown"


def refused_event(record: object, error: Exception) -> dict[str, Any]:
    """The ``export_refused`` event that stands for a record :func:`safe_record`
    refused with ``error``; it always passes :func:`safe_record`."""
    source: Mapping[str, Any] = record if isinstance(record, Mapping) else {}
    match = _FIELD.search(str(error))
    field = match.group(1) if match else "record"
    ts = source.get("ts")
    try:
        valid_ts = isinstance(ts, str) and datetime.fromisoformat(ts).utcoffset() is not None
    except ValueError:
        valid_ts = False
    seq = source.get("seq")
    return {
        "ts": ts if valid_ts else _EPOCH_TS,
        "tenant_id": _string(source, "tenant_id"),
        "request_id": _string(source, "request_id"),
        "outcome": REFUSED_OUTCOME,
        "error_code": REFUSED_OUTCOME,
        "hash": _string(source, "hash"),
        "seq": seq if type(seq) is int and seq >= 1 else 1,
        "extra": {"refused_field": field},
    }


def sendable(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """``record`` itself if :func:`safe_record` accepts it, else its
    :func:`refused_event`."""
    try:
        safe_record(record)
    except (ValueError, TypeError) as exc:
        return refused_event(record, exc)
    return record


def render(
    record: Mapping[str, Any],
    format: Format,
    *,
    hostname: str = "-",
    app_name: str = "bastion",
    facility: int = 13,
) -> str:
    """One record as text in ``format`` (no trailing newline); a refused record
    becomes its :func:`refused_event`. ``hostname``, ``app_name`` and ``facility`` are
    for ``syslog`` only (see :func:`~bastion.siem.formats.to_syslog`)."""
    rec = sendable(record)
    if format == "jsonl":
        return to_jsonl(rec)
    if format == "cef":
        return to_cef(rec)
    if format == "ocsf":
        return orjson.dumps(to_ocsf(rec), option=orjson.OPT_SORT_KEYS).decode()
    if format == "syslog":
        return to_syslog(rec, hostname=hostname, app_name=app_name, facility=facility)
    raise ValueError(f"SIEM format must be one of {', '.join(FORMATS)}, not {format!r}")
