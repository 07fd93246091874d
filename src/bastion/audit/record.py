"""One audit record: the event the gateway fills, its canonical body and its hash.

Canonical body
    ``canonical_body(event)`` is the JSON text stored in ``audit_records.body``: an
    object with exactly the fields of :class:`AuditEvent` (``actions``,
    ``data_sources``, ``error_code``, ``extra``, ``key_id``, ``latency_ms``,
    ``model``, ``outcome``, ``prompt``, ``request_id``, ``response``, ``route``,
    ``session_id``, ``stream``, ``tenant_id``, ``ts``, ``user_id``, ``verdicts``),
    serialised by orjson with keys sorted at every level, no whitespace, UTF-8
    (non-ASCII characters are not escaped). Every datetime, ``ts`` and any nested one,
    is written in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` (always six fractional
    digits). Parsing the body and re-serialising it with orjson and ``OPT_SORT_KEYS``
    gives back the same text, so an exported record can be re-checked.

Hash
    For the record at position ``seq`` (1, 2, ...) of tenant ``tenant_id``::

        field(s)  = len(utf8(s)).to_bytes(8, "big") || utf8(s)
        hash      = lowercase hex SHA-256 of
                    b"bastion.audit.v1\\n"
                    || field(tenant_id)
                    || field(decimal(seq))        # e.g. "42", no sign, no padding
                    || field(prev_hash)           # 64 lowercase hex characters
                    || field(body)                # the canonical body text

    ``prev_hash`` is the ``hash`` of the record at ``seq - 1`` of the same tenant, and
    ``GENESIS_HASH`` (64 zeros) for ``seq == 1``. The length prefixes make the encoding
    unambiguous: no two different field tuples hash the same bytes. The columns
    ``ts``, ``request_id`` and ``outcome`` of ``audit_records`` are copies of body
    fields for indexing; they are covered by the hash through the body, and a
    verifier must check that they equal the body's values. ``audit_heads`` holds,
    per tenant, the ``seq`` and ``hash`` of the last record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = [
    "GENESIS_HASH",
    "SEALED_FIELDS",
    "AuditEvent",
    "AuditReceipt",
    "canonical_body",
    "canonical_parts",
    "format_ts",
    "record_hash",
]

GENESIS_HASH = "0" * 64
_DOMAIN = b"bastion.audit.v1\n"
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class AuditEvent:
    """One interaction through the gateway, as the gateway saw it.

    ``prompt`` is the list of ``{"role", "content"}`` messages as sent by the
    client; ``response`` is the text actually delivered (a list of texts when the
    client asked for several choices). ``verdicts`` holds one dict per scanner
    decision (``stage``, ``scanner``, ``decision``, ``score``, ``reason``,
    ``findings``). ``extra`` carries fields later versions add. The ``repr`` shows
    identifiers only, never prompt or response text.
    """

    ts: datetime
    request_id: str
    tenant_id: str
    user_id: str
    key_id: str
    model: str
    route: str
    outcome: str
    session_id: str | None = None
    stream: bool = False
    prompt: list[dict[str, Any]] = field(default_factory=list)
    data_sources: list[Any] = field(default_factory=list)
    response: str | list[str] | None = None
    actions: list[Any] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    latency_ms: float = 0.0
    error_code: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None or self.ts.utcoffset() is None:
            raise ValueError("AuditEvent.ts must be a timezone-aware datetime")

    def __repr__(self) -> str:
        return (
            f"AuditEvent(tenant_id={self.tenant_id!r}, request_id={self.request_id!r}, "
            f"outcome={self.outcome!r})"
        )


@dataclass(frozen=True, slots=True)
class AuditReceipt:
    """Proof that a record is committed: its place in the tenant's chain and hash."""

    tenant_id: str
    seq: int
    hash: str


def format_ts(value: datetime) -> str:
    """The canonical text of an aware datetime: UTC, microseconds, ``+00:00``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return format_ts(value)
    raise TypeError(f"type {type(value).__name__} is not allowed in an audit record")


SEALED_FIELDS = ("prompt", "response")
"""Content fields stored sealed when a key is configured (see ``sealing``)."""


def canonical_body(event: AuditEvent) -> str:
    """The canonical JSON text of ``event`` (see the module docstring)."""
    return _encode(_document(event))


def canonical_parts(event: AuditEvent) -> tuple[str, str, bytes]:
    """(full body, body without the content fields, content fields) of ``event``.

    The full body is what the hash covers; the other two are what is stored when
    content is sealed. Merging them with sorted keys gives back the full body.
    """
    document = _document(event)
    full = _encode(document)
    content = {name: document.pop(name) for name in SEALED_FIELDS}
    return full, _encode(document), _encode(content).encode()


def _document(event: AuditEvent) -> dict[str, Any]:
    return {
        "actions": event.actions,
        "data_sources": event.data_sources,
        "error_code": event.error_code,
        "extra": event.extra,
        "key_id": event.key_id,
        "latency_ms": event.latency_ms,
        "model": event.model,
        "outcome": event.outcome,
        "prompt": event.prompt,
        "request_id": event.request_id,
        "response": event.response,
        "route": event.route,
        "session_id": event.session_id,
        "stream": event.stream,
        "tenant_id": event.tenant_id,
        "ts": format_ts(event.ts),
        "user_id": event.user_id,
        "verdicts": event.verdicts,
    }


def _encode(document: dict[str, Any]) -> str:
    try:
        return orjson.dumps(document, default=_default, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError as exc:
        # orjson's messages name types and rules, never values.
        raise ValueError(f"audit event cannot be encoded: {exc}") from None


def _field(value: str) -> bytes:
    data = value.encode("utf-8")
    return len(data).to_bytes(8, "big") + data


def record_hash(tenant_id: str, seq: int, prev_hash: str, body: str) -> str:
    """SHA-256 hex of one record's position and content (see the module docstring)."""
    if seq < 1:
        raise ValueError("seq starts at 1")
    digest = hashlib.sha256(_DOMAIN)
    for part in (tenant_id, str(seq), prev_hash, body):
        digest.update(_field(part))
    return digest.hexdigest()
