"""Searching one tenant's audit chain for the console: the filters a person may set,
a page of matching records (newest first, a cursor on ``seq``), one record's metadata
and, for those allowed, its sealed content.

Everything is read through :func:`~bastion.store.transactions.read_snapshot` bound to
the caller's tenant. Filters on columns (time, outcome, cursor) run in SQL; filters on
the body (user, route, reason, data source) are narrowed in SQL by a ``LIKE`` on the
canonical JSON and then checked exactly on the parsed body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlencode

import orjson
from sqlalchemy import Engine, Select, Table, func, select

from bastion.audit.sealing import SEALED_FIELDS, AuditSealer
from bastion.store.schema import AuditRecord, User
from bastion.store.transactions import read_snapshot

__all__ = [
    "BadSearch",
    "Content",
    "Filters",
    "Found",
    "Hit",
    "Record",
    "load_content",
    "load_record",
    "parse_filters",
    "parse_seq",
    "search",
]

PAGE_SIZE = 50
SCAN_LIMIT = 5_000  # records read per request at most; "next" continues further back
_BATCH = 500
_RECORDS = cast(Table, AuditRecord.__table__)
_MAX_SEQ = 2**63 - 1
_OUTCOME = re.compile(r"[a-z0-9_]{1,32}")
_ROUTE = re.compile(r"[A-Za-z0-9_./:{}-]{1,128}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BadSearch(ValueError):
    """A search parameter that is not acceptable; the message names the field and what
    is expected, never echoes the value."""


@dataclass(frozen=True, slots=True)
class Filters:
    user: str = ""
    start: datetime | None = None
    end: datetime | None = None  # exclusive
    outcome: str = ""
    reason: str = ""
    source: str = ""
    route: str = ""
    before: int | None = None  # only records with seq < before

    def link(self, before: int) -> str:
        """The query string of the next page."""
        params = {k: v for k, v in self.form.items() if v}
        return urlencode({**params, "before": str(before)})

    @property
    def form(self) -> dict[str, str]:
        """The filters as the search form shows them."""
        return {
            "user": self.user,
            "from": _show(self.start),
            "to": _show(self.end),
            "outcome": self.outcome,
            "reason": self.reason,
            "source": self.source,
            "route": self.route,
        }


def _show(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value else ""


def _text(params: Mapping[str, str], name: str, limit: int, label: str) -> str:
    value = params.get(name, "").strip()
    if len(value) > limit or _CONTROL.search(value):
        raise BadSearch(f"{label}: at most {limit} printable characters.")
    return value


def _time(params: Mapping[str, str], name: str, label: str, *, end: bool) -> datetime | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) > 40:
            raise ValueError
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadSearch(
            f"{label}: a UTC date or time such as 2025-01-31 or 2025-01-31T14:30."
        ) from None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if end and len(raw) == 10:  # a date alone: up to the end of that day
        value += timedelta(days=1)
    return value


def parse_filters(params: Mapping[str, str]) -> Filters:
    """The filters of a search request (query parameters); :class:`BadSearch` if one
    is malformed."""
    outcome = _text(params, "outcome", 32, "Decision")
    if outcome and not _OUTCOME.fullmatch(outcome):
        raise BadSearch("Decision: an outcome such as allowed, redacted or blocked_input.")
    route = _text(params, "route", 128, "Route")
    if route and not _ROUTE.fullmatch(route):
        raise BadSearch("Route: a route such as /v1/chat/completions or console.")
    before_raw = params.get("before", "").strip()
    before: int | None = None
    if before_raw:
        if not before_raw.isdigit() or len(before_raw) > 19 or not 0 < int(before_raw) <= _MAX_SEQ:
            raise BadSearch("Page: the cursor is not a record number.")
        before = int(before_raw)
    start = _time(params, "from", "From", end=False)
    end = _time(params, "to", "To", end=True)
    if start and end and start >= end:
        raise BadSearch("From must be before To.")
    return Filters(
        user=_text(params, "user", 320, "User"),
        start=start,
        end=end,
        outcome=outcome,
        reason=_text(params, "reason", 128, "Reason"),
        source=_text(params, "source", 128, "Data source"),
        route=route,
        before=before,
    )


def parse_seq(raw: str) -> int | None:
    """A record number from a path, or None."""
    if not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= _MAX_SEQ:
        return None
    return int(raw)


@dataclass(frozen=True, slots=True)
class Hit:
    seq: int
    ts: datetime
    user: str
    route: str
    outcome: str
    reason: str
    model: str
    sources: list[str]


@dataclass(frozen=True, slots=True)
class Found:
    hits: list[Hit] = field(default_factory=list)
    next_before: int | None = None
    scanned: int = 0
    stopped: bool = False  # the scan limit ended the search before a page was full


def _json_like(fragment: str) -> str:
    """A LIKE pattern matching ``fragment`` (JSON text) anywhere; ``\\`` escapes."""
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _json(value: str) -> str:
    return orjson.dumps(value).decode()


def _reasons(body: dict[str, Any]) -> set[str]:
    found = {str(body["error_code"])} if body.get("error_code") else set()
    for verdict in body.get("verdicts") or []:
        if isinstance(verdict, dict):
            for finding in verdict.get("findings") or []:
                if isinstance(finding, dict) and finding.get("type"):
                    found.add(str(finding["type"]))
    return found


def _sources(body: dict[str, Any]) -> list[str]:
    ids = []
    for entry in body.get("data_sources") or []:
        value = entry.get("source") if isinstance(entry, dict) else entry
        if isinstance(value, str) and value:
            ids.append(value)
    return ids


def _matches(body: dict[str, Any], f: Filters, user_ids: set[str] | None) -> bool:
    if user_ids is not None and str(body.get("user_id") or "") not in user_ids:
        return False
    if f.route and body.get("route") != f.route:
        return False
    if f.reason and f.reason not in _reasons(body):
        return False
    return not f.source or f.source in _sources(body)


def _query(tenant_id: str, f: Filters, user_ids: set[str] | None) -> Select[Any]:
    r = _RECORDS.c
    query = select(r.seq, r.ts, r.outcome, r.body).where(r.tenant_id == tenant_id)
    if f.start is not None:
        query = query.where(r.ts >= f.start)
    if f.end is not None:
        query = query.where(r.ts < f.end)
    if f.outcome:
        query = query.where(r.outcome == f.outcome)
    likes = []
    if user_ids is not None and len(user_ids) == 1:
        likes.append(f'"user_id":{_json(next(iter(user_ids)))}')
    if f.route:
        likes.append(f'"route":{_json(f.route)}')
    if f.reason:
        likes.append(_json(f.reason))
    if f.source:
        likes.append(_json(f.source))
    for fragment in likes:
        query = query.where(r.body.like(_json_like(fragment), escape="\\"))
    return query.order_by(r.seq.desc())


def search(
    engine: Engine,
    tenant_id: str,
    f: Filters,
    *,
    page_size: int = PAGE_SIZE,
    scan_limit: int = SCAN_LIMIT,
) -> Found:
    """A page of the tenant's records matching ``f``, newest first."""
    with read_snapshot(engine, tenant_id) as conn:
        user_ids: set[str] | None = None
        if f.user:
            rows = conn.execute(
                select(User.id).where(
                    User.tenant_id == tenant_id, func.lower(User.email) == f.user.lower()
                )
            )
            user_ids = {str(row.id) for row in rows}
            if not user_ids:
                return Found()
        query = _query(tenant_id, f, user_ids)
        matched: list[tuple[int, datetime, str, dict[str, Any]]] = []
        cursor, scanned, exhausted = f.before, 0, False
        while len(matched) <= page_size and scanned < scan_limit:
            want = min(_BATCH, scan_limit - scanned)
            batch_query = query.limit(want)
            if cursor is not None:
                batch_query = batch_query.where(_RECORDS.c.seq < cursor)
            batch = conn.execute(batch_query).all()
            for seq, ts, outcome, raw in batch:
                scanned += 1
                cursor = int(seq)
                body = orjson.loads(raw)
                if _matches(body, f, user_ids):
                    matched.append((int(seq), ts, str(outcome), body))
                    if len(matched) > page_size:
                        break
            if len(batch) < want:
                exhausted = True
                break
        page = matched[:page_size]
        wanted = {str(body.get("user_id") or "") for _, _, _, body in page} - {""}
        emails = _emails(conn, tenant_id, wanted)
    hits = [
        Hit(
            seq=seq,
            ts=ts,
            user=emails.get(str(body.get("user_id") or ""), str(body.get("user_id") or "")),
            route=str(body.get("route") or ""),
            outcome=outcome,
            reason=str(body.get("error_code") or ""),
            model=str(body.get("model") or ""),
            sources=_sources(body),
        )
        for seq, ts, outcome, body in page
    ]
    if len(matched) > page_size:
        return Found(hits, next_before=page[-1][0], scanned=scanned)
    if not exhausted and cursor is not None and cursor > 1:
        return Found(hits, next_before=cursor, scanned=scanned, stopped=True)
    return Found(hits, scanned=scanned)


def _emails(conn: Any, tenant_id: str, user_ids: set[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    query = select(User.id, User.email).where(User.tenant_id == tenant_id, User.id.in_(user_ids))
    return {str(row.id): str(row.email) for row in conn.execute(query)}


@dataclass(frozen=True, slots=True)
class Record:
    """One record's metadata (never its prompt or response)."""

    seq: int
    ts: datetime
    user: str
    body: dict[str, Any]
    sealed: bool
    hash: str
    prev_hash: str

    @property
    def reasons(self) -> list[str]:
        return sorted(_reasons(self.body))


@dataclass(frozen=True, slots=True)
class Content:
    """A record's prompt and response; ``opened`` false when its sealed part would not
    open (a missing or wrong key, or a modified row)."""

    opened: bool
    prompt: list[dict[str, Any]] = field(default_factory=list)
    response: list[str] = field(default_factory=list)


_ONE = select(
    _RECORDS.c.seq,
    _RECORDS.c.ts,
    _RECORDS.c.body,
    _RECORDS.c.sealed,
    _RECORDS.c.hash,
    _RECORDS.c.prev_hash,
)


def load_record(engine: Engine, tenant_id: str, seq: int) -> Record | None:
    """The tenant's record ``seq`` without its content; None if there is none."""
    query = _ONE.where(_RECORDS.c.tenant_id == tenant_id, _RECORDS.c.seq == seq)
    with read_snapshot(engine, tenant_id) as conn:
        row = conn.execute(query).first()
        if row is None:
            return None
        body = orjson.loads(row.body)
        for name in SEALED_FIELDS:
            body.pop(name, None)
        user_id = str(body.get("user_id") or "")
        user = _emails(conn, tenant_id, {user_id} - {""}).get(user_id, user_id)
    return Record(
        seq=int(row.seq),
        ts=row.ts,
        user=user,
        body=body,
        sealed=row.sealed is not None,
        hash=str(row.hash),
        prev_hash=str(row.prev_hash),
    )


def load_content(
    engine: Engine, tenant_id: str, seq: int, sealer: AuditSealer | None
) -> Content | None:
    """The prompt and response of the tenant's record ``seq`` (opened with ``sealer``
    when sealed); None if there is no such record."""
    query = _ONE.where(_RECORDS.c.tenant_id == tenant_id, _RECORDS.c.seq == seq)
    with read_snapshot(engine, tenant_id) as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    text: str | None = row.body
    if row.sealed is not None:
        text = sealer.merge(tenant_id, row.hash, row.body, row.sealed) if sealer else None
    if text is None:
        return Content(opened=False)
    body = orjson.loads(text)
    prompt = [m for m in body.get("prompt") or [] if isinstance(m, dict)]
    messages = [
        {
            "role": str(m.get("role", "")),
            "content": m["content"]
            if isinstance(m.get("content"), str)
            else orjson.dumps(m.get("content"), option=orjson.OPT_INDENT_2).decode(),
        }
        for m in prompt
    ]
    response = body.get("response")
    texts = [response] if isinstance(response, str) else [str(t) for t in response or []]
    return Content(opened=True, prompt=messages, response=texts)
