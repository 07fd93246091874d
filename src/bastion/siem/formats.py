"""SIEM formats for one exported audit record: JSON Lines, CEF, RFC 5424 syslog, OCSF.

Each function takes one line of :func:`bastion.audit.export_jsonl` as a dict and is
pure (same record, same text). All start from :func:`safe_record`, which fails closed:

* Only known top-level fields are kept, so ``prompt`` and ``response`` (and any field
  a later version adds) never reach a SIEM: content stays sealed in Bastion. ``ts``,
  ``tenant_id``, ``request_id``, ``outcome``, ``hash`` and ``seq`` are required and
  every field must have its type, else ``ValueError`` naming the field, never its
  value: a malformed record is refused whole, not sent half-understood.
* ``extra`` keeps scalars (string, number, bool, null) whose key matches
  ``^[a-z_][a-z0-9_]{0,63}$`` and is not a content name (prompt, response, content,
  text, messages, sql, query, arguments); strings are cut to :data:`MAX_VALUE_CHARS`.
  ``verdicts``, ``actions`` and ``data_sources`` entries follow the same rule but may
  hold lists of scalars, and ``findings`` (type, offsets, score) flat objects; so an
  action's ``query`` object (the SQL that ran) stays home. Lists keep 64 items. Lone
  surrogates become U+FFFD, non-finite floats are dropped.

Severity (:func:`severity`, 0-10 as in CEF) comes from a fixed table of outcomes
(``_OUTCOME_SEVERITY``: allowed 1, redacted 3, rejected 4, refusals 5, blocked_input
6, blocked_output 7, ...). ``alert_*`` outcomes take ``extra.severity`` (0-10, or
info 1, low 3, medium 5, high 7, critical 9), 8 when it is unreadable so that it is
looked at. Unknown outcomes: ``blocked_*`` 6, ``*_refused``/``*_denied`` 5,
``*_failed``/``*_error`` 4, else 5, never quietly informational. Syslog severity:
0-1 info (6), 2-3 notice, 4-5 warning, 6-7 error, 8 critical, 9-10 alert (1); OCSF
``severity_id``: 0-1 1, 2-3 2, 4-5 3, 6-7 4, 8-9 5, 10 6. A record succeeded iff its
outcome is in ``_SUCCESS`` and it has no ``error_code``; unknown outcomes fail.

CEF: ``CEF:0|vendor|product|version|<outcome>|<Outcome title>|<severity>|`` and
``rt`` (epoch ms), ``act`` (outcome), ``outcome`` (success/failure), ``externalId``
(request_id), ``suser`` (user_id), ``reason`` (error_code), ``requestMethod``, then
labelled ``cs1``-``cs6`` tenant_id, route, audit_hash, audit_prev_hash, model, key_id,
``flexString1`` session_id, ``cn1`` audit_seq, ``cn2`` verdict_count, ``cfp1``
latency_ms, ``bastionBlockedBy``, ``bastionSealed`` and ``bastion_<key>`` per extra
value, sorted. Header fields escape ``\\`` and ``|``; extension values ``\\``, ``=``
and newlines (``\\n``, ``\\r``). Pipes in the extension stay as they are: the standard
needs no escape there and its parsers would keep a ``\\|``. Other control characters
become spaces in every format, so each event is one line.

Syslog: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [bastion@32473 ...]
[bastionExtra@32473 ...] MSG``; PRI = facility * 8 + syslog severity, TIMESTAMP UTC
with microseconds and ``Z``, MSGID the outcome in printable ASCII (others become
``_``), at most 32 characters; 32473 is RFC 5612's documentation enterprise number.
Param values escape ``"``, ``\\`` and ``]``; extra keys over 32 characters (the
SD-NAME limit) are dropped, not cut, which could collide. MSG is a short ASCII summary
without BOM (RFC 5424 6.4 allows it; the data is in the UTF-8 structured data).
:func:`frame_octet_counting` frames a message for TCP/TLS (RFC 6587 3.4.1).

OCSF: :mod:`bastion.siem.ocsf`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bastion import __version__

__all__ = [
    "ENTERPRISE_NUMBER",
    "MAX_VALUE_CHARS",
    "frame_octet_counting",
    "safe_record",
    "severity",
    "to_cef",
    "to_jsonl",
    "to_syslog",
]

ENTERPRISE_NUMBER = 32473
"""RFC 5612's documentation PEN, in the syslog SD-IDs."""
MAX_VALUE_CHARS = 256
"""Longest string kept from ``extra`` and list entries."""

_SAFE_KEY = re.compile(r"[a-z_][a-z0-9_]{0,63}")
_CONTENT_KEYS = frozenset(
    {"prompt", "response", "content", "text", "messages", "sql", "query", "arguments"}
)
_MAX_ITEMS = 64
_REQUIRED = ("ts", "tenant_id", "request_id", "outcome", "hash")
_OPTIONAL = ("prev_hash", "route", "error_code", "user_id", "key_id", "session_id", "model")
_LISTS = ("verdicts", "actions", "data_sources")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CEF_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_NOT_PRINTABLE = re.compile(r"[^\x21-\x7e]")
_SKIP = object()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_OUTCOME_SEVERITY = {
    outcome: level
    for level, names in (
        (1, "allowed signed_in client_disconnected document_ingested"),
        (2, "action_confirmed action_approved action_succeeded action_rejected action_expired"),
        (2, "document_deleted source_connected source_shared source_unshared source_deleted"),
        (3, "redacted admin_change upstream_error"),
        (4, "rejected rate_limited error action_failed"),
        (5, "action_refused sign_in_refused sign_in_failed source_change_refused"),
        (6, "blocked_input document_quarantined admin_denied"),
        (7, "blocked_output"),
    )
    for outcome in names.split()
}
_SUCCESS = frozenset(
    {"allowed", "redacted", "signed_in", "action_confirmed", "action_approved"}
    | {"action_succeeded", "action_rejected", "document_ingested", "document_deleted"}
    | {"source_connected", "source_shared", "source_unshared", "source_deleted"}
    | {"admin_change"}
)
_ALERT_LEVELS = {"info": 1, "informational": 1, "low": 3, "medium": 5, "high": 7, "critical": 9}
_METHODS = {"POST": (1, "Create"), "GET": (2, "Read"), "PUT": (3, "Update")}
_METHODS |= {"PATCH": (3, "Update"), "DELETE": (4, "Delete")}
_SD_FIELDS = ("tenant_id", "seq", "request_id", "outcome", *_OPTIONAL, "latency_ms", "stream")


def _bad(name: str, kind: str) -> ValueError:
    return ValueError(f"audit record field {name!r} is not {kind}")


def _clean(value: str) -> str:
    return _SURROGATE.sub("\ufffd", value)


def _scalar(value: object) -> object:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else _SKIP
    if isinstance(value, float):
        return value if math.isfinite(value) else _SKIP
    if isinstance(value, str):
        return _clean(value)[:MAX_VALUE_CHARS]
    return _SKIP


def _fields(entry: Mapping[Any, Any], *, lists: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if not isinstance(key, str) or not _SAFE_KEY.fullmatch(key) or key in _CONTENT_KEYS:
            continue
        if lists and isinstance(value, list):
            kept: list[Any]
            if key == "findings":
                kept = [_fields(f, lists=False) for f in value if isinstance(f, Mapping)]
            else:
                kept = [v for v in map(_scalar, value) if v is not _SKIP]
            out[key] = kept[:_MAX_ITEMS]
        elif (scalar := _scalar(value)) is not _SKIP:
            out[key] = scalar
    return out


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _bad("ts", "an RFC 3339 timestamp") from None
    if parsed.utcoffset() is None:
        raise _bad("ts", "a timestamp with an offset")
    return parsed.astimezone(UTC)


def safe_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """What of ``record`` may reach a SIEM (see the module docstring); raises
    ``ValueError`` on a malformed record, naming the field and never its value."""
    if not isinstance(record, Mapping):
        raise TypeError("an audit record is a mapping")
    out: dict[str, Any] = {}
    for name in _REQUIRED:
        if not isinstance(record.get(name), str):
            raise _bad(name, "a string")
        out[name] = _clean(record[name])
    _timestamp(out["ts"])
    seq = record.get("seq")
    if type(seq) is not int or seq < 1:
        raise _bad("seq", "a positive integer")
    out["seq"] = seq
    for name in (n for n in _OPTIONAL if n in record):
        value = record[name]
        if value is not None and not isinstance(value, str):
            raise _bad(name, "a string or null")
        out[name] = None if value is None else _clean(value)
    if "latency_ms" in record:
        latency = record["latency_ms"]
        if isinstance(latency, bool) or not isinstance(latency, int | float):
            raise _bad("latency_ms", "a number")
        out["latency_ms"] = latency if math.isfinite(latency) else None
    for name in ("stream", "content_sealed"):
        if name in record:
            if not isinstance(record[name], bool):
                raise _bad(name, "a boolean")
            out[name] = record[name]
    for name in (n for n in _LISTS if n in record):
        items = record[name]
        if not isinstance(items, list):
            raise _bad(name, "a list")
        kept = [_fields(i, lists=True) if isinstance(i, Mapping) else _scalar(i) for i in items]
        out[name] = [i for i in kept if i is not _SKIP][:_MAX_ITEMS]
    if "extra" in record:
        if not isinstance(record["extra"], Mapping):
            raise _bad("extra", "an object")
        out["extra"] = _fields(record["extra"], lists=False)
    return out


def _severity(rec: Mapping[str, Any]) -> int:
    outcome: str = rec["outcome"]
    if outcome in _OUTCOME_SEVERITY:
        return _OUTCOME_SEVERITY[outcome]
    if outcome.startswith("alert_"):
        level = rec.get("extra", {}).get("severity")
        if type(level) is int and 0 <= level <= 10:
            return level
        return _ALERT_LEVELS.get(level.lower(), 8) if isinstance(level, str) else 8
    if outcome.startswith("blocked_"):
        return 6
    if outcome.endswith(("_refused", "_denied")):
        return 5
    return 4 if outcome.endswith(("_failed", "_error")) else 5


def severity(record: Mapping[str, Any]) -> int:
    """The record's severity, 0 (lowest) to 10, derived from its outcome alone (and an
    alert's ``extra.severity``); the table is in the module docstring."""
    return _severity(safe_record(record))


def _succeeded(rec: Mapping[str, Any]) -> bool:
    return rec["outcome"] in _SUCCESS and rec.get("error_code") is None


def _method(rec: Mapping[str, Any]) -> str | None:
    method, _, path = (rec.get("route") or "").partition(" ")
    return method if path and method in _METHODS else None


def _blocked_by(rec: Mapping[str, Any]) -> str | None:
    names = [
        str(v.get("scanner"))
        for v in rec.get("verdicts", [])
        if isinstance(v, dict) and v.get("decision") == "block"
    ]
    return ",".join(names) or None


def _epoch_ms(rec: Mapping[str, Any]) -> int:
    return (_timestamp(rec["ts"]) - _EPOCH) // timedelta(milliseconds=1)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return _clean(str(value))


def to_jsonl(record: Mapping[str, Any]) -> str:
    """One JSON Lines line (without the newline): the safe record, keys sorted."""
    return orjson.dumps(safe_record(record), option=orjson.OPT_SORT_KEYS).decode()


def _cef_header(value: str, limit: int) -> str:
    text = _CONTROL.sub(" ", _clean(value))[:limit]
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _cef_value(value: object) -> str:
    text = _CEF_CONTROL.sub(" ", _text(value))
    text = text.replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\n", "\\n").replace("\r", "\\r")


def to_cef(
    record: Mapping[str, Any],
    *,
    vendor: str = "Bastion",
    product: str = "Gateway",
    version: str = __version__,
) -> str:
    """One CEF:0 event; signature id is the outcome, severity :func:`severity`."""
    rec = safe_record(record)
    outcome: str = rec["outcome"]
    title = outcome.replace("_", " ").strip().capitalize() or "Audit record"
    limits = ((vendor, 63), (product, 63), (version, 31), (outcome, 1023), (title, 512))
    header = ["CEF:0", *(_cef_header(v, n) for v, n in limits), str(_severity(rec))]
    fields: list[tuple[str, str | None, object]] = [
        ("rt", None, _epoch_ms(rec)),
        ("act", None, outcome),
        ("outcome", None, "success" if _succeeded(rec) else "failure"),
        ("externalId", None, rec["request_id"]),
        ("suser", None, rec.get("user_id")),
        ("reason", None, rec.get("error_code")),
        ("requestMethod", None, _method(rec)),
        ("cs1", "tenant_id", rec["tenant_id"]),
        ("cs2", "route", rec.get("route")),
        ("cs3", "audit_hash", rec["hash"]),
        ("cs4", "audit_prev_hash", rec.get("prev_hash")),
        ("cs5", "model", rec.get("model")),
        ("cs6", "key_id", rec.get("key_id")),
        ("flexString1", "session_id", rec.get("session_id")),
        ("cn1", "audit_seq", rec["seq"]),
        ("cn2", "verdict_count", len(rec.get("verdicts", []))),
        ("cfp1", "latency_ms", rec.get("latency_ms")),
        ("bastionBlockedBy", None, _blocked_by(rec)),
        ("bastionSealed", None, rec.get("content_sealed")),
    ]
    pairs: list[str] = []
    for key, label, value in fields:
        if value is not None:
            if label is not None:
                pairs.append(f"{key}Label={label}")
            pairs.append(f"{key}={_cef_value(value)}")
    extra = rec.get("extra", {})
    pairs += [f"bastion_{k}={_cef_value(extra[k])}" for k in sorted(extra) if extra[k] is not None]
    return "|".join(header) + "|" + " ".join(pairs)


def _syslog_level(sev: int) -> int:
    return (6, 6, 5, 5, 4, 4, 3, 3, 2, 1, 1)[sev]


def _sd_element(sd_id: str, params: list[tuple[str, object]]) -> str:
    parts = [sd_id]
    for name, value in params:
        if value is not None:
            text = _CONTROL.sub(" ", _text(value))
            text = text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
            parts.append(f'{name}="{text}"')
    return "[" + " ".join(parts) + "]"


def _header_token(value: str, limit: int, name: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= limit or _NOT_PRINTABLE.search(value):
        raise ValueError(f"syslog {name} must be 1-{limit} printable ASCII characters")
    return value


def to_syslog(
    record: Mapping[str, Any],
    *,
    hostname: str,
    app_name: str = "bastion",
    facility: int = 13,
) -> str:
    """One RFC 5424 message (no trailing newline). ``facility`` is 0-23: 13 (log
    audit) by default, 10 (authpriv) for a sink that keeps sign-ins apart."""
    rec = safe_record(record)
    _header_token(hostname, 255, "hostname")
    _header_token(app_name, 48, "app_name")
    if type(facility) is not int or not 0 <= facility <= 23:
        raise ValueError("syslog facility must be an integer 0-23")
    sev = _severity(rec)
    stamp = _timestamp(rec["ts"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    msgid = _NOT_PRINTABLE.sub("_", rec["outcome"])[:32] or "-"
    params: list[tuple[str, object]] = [(n, rec.get(n)) for n in _SD_FIELDS]
    params += [("severity", sev), ("verdicts", len(rec.get("verdicts", [])))]
    params += [("blocked_by", _blocked_by(rec)), ("content_sealed", rec.get("content_sealed"))]
    params.append(("hash", rec["hash"]))
    sd = _sd_element(f"bastion@{ENTERPRISE_NUMBER}", params)
    extra = [(k, v) for k, v in sorted(rec.get("extra", {}).items()) if len(k) <= 32]
    if any(v is not None for _, v in extra):
        sd += _sd_element(f"bastionExtra@{ENTERPRISE_NUMBER}", extra)
    pri = facility * 8 + _syslog_level(sev)
    summary = f"Bastion audit record {rec['seq']}: {msgid}"
    return f"<{pri}>1 {stamp} {hostname} {app_name} - {msgid} {sd} {summary}"


def frame_octet_counting(message: str) -> bytes:
    """``MSG-LEN SP SYSLOG-MSG`` (RFC 6587 3.4.1); the length counts UTF-8 octets."""
    data = message.encode("utf-8")
    return str(len(data)).encode("ascii") + b" " + data
