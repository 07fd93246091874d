"""Evidence from the audit chain: a subject's queries and what they touched.

Reads the tenant's ``audit_records`` in one snapshot, bound to the tenant, over the
``(tenant_id, ts)`` index, and keeps only identifiers and counts: request ids,
outcomes, routes, data sources and tables with row counts, finding types. It reads the
clear part of each body only (never opens sealed content), and copies no prompt or
response text, even from a record stored in clear. Records the gateway writes about
its own detection and response (routes ``alert`` and ``incident``) are not activity.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Engine, select

from bastion.audit.record import format_ts
from bastion.response.subject import finding_types_of
from bastion.store.schema import AuditRecord
from bastion.store.transactions import read_snapshot

__all__ = ["MAX_REQUEST_IDS", "RecordRef", "Scope", "activity", "find_record"]

MAX_REQUEST_IDS = 100
_MAX_SOURCES = 50
_MAX_TYPES = 64
_SELF_ROUTES = frozenset({"alert", "incident", "governance"})
_YIELD_PER = 1000
_IDENT = re.compile(r"[A-Za-z0-9_.:/\-]{1,128}")
_ROUTE = re.compile(r"[ -~]{1,128}")  # routes are the gateway's own (printable ASCII)
Scope = Literal["session_id", "key_id", "user_id"]


@dataclass(frozen=True, slots=True)
class RecordRef:
    """Where one audit record sits in the chain, and its decisions (no content)."""

    request_id: str
    seq: int
    hash: str
    outcome: str
    route: str
    findings: tuple[tuple[str, str, str], ...]  # (stage, scanner, finding type)
    model: str = ""  # the model alias the request named

    def detail(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "seq": self.seq,
            "hash": self.hash,
            "outcome": self.outcome,
            "route": self.route,
            "findings": [list(f) for f in self.findings],
        }


def find_record(engine: Engine, tenant_id: str, request_id: str) -> RecordRef | None:
    """The tenant's record of ``request_id`` (the first, should there be several)."""
    query = (
        select(AuditRecord.seq, AuditRecord.hash, AuditRecord.outcome, AuditRecord.body)
        .where(AuditRecord.tenant_id == tenant_id, AuditRecord.request_id == request_id)
        .order_by(AuditRecord.seq)
        .limit(1)
    )
    with read_snapshot(engine, tenant_id) as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    body = _body(row.body)
    findings = tuple(
        (stage, scanner, kind)
        for stage in ("input", "output")
        for scanner, kind in finding_types_of(body.get("verdicts"), stage)
    )
    return RecordRef(
        request_id=request_id,
        seq=int(row.seq),
        hash=str(row.hash),
        outcome=str(row.outcome),
        route=_route(body.get("route")),
        findings=findings[:_MAX_TYPES],
        model=str(body.get("model") or "")[:128],
    )


def activity(
    engine: Engine,
    tenant_id: str,
    scope: Scope,
    ref: str,
    *,
    since: datetime,
    until: datetime,
    limit: int,
) -> dict[str, Any]:
    """What ``ref`` (a session, key or user, per ``scope``) did between ``since`` and
    ``until``: identifiers and counts, ready to be a step's detail."""
    query = (
        select(AuditRecord.request_id, AuditRecord.outcome, AuditRecord.body)
        .where(
            AuditRecord.tenant_id == tenant_id,
            AuditRecord.ts >= since,
            AuditRecord.ts <= until,
        )
        .order_by(AuditRecord.ts, AuditRecord.seq)
        .limit(limit + 1)
    )
    summary = _Summary()
    scanned = 0
    with read_snapshot(engine, tenant_id) as conn:
        for row in conn.execution_options(yield_per=_YIELD_PER).execute(query):
            scanned += 1
            if scanned > limit:
                break
            body = _body(row.body)
            if body.get(scope) != ref or body.get("route") in _SELF_ROUTES:
                continue
            summary.add(str(row.request_id), str(row.outcome), body)
    return {
        "scope": scope.removesuffix("_id"),
        "ref": ref,
        "since": format_ts(since),
        "until": format_ts(until),
        "scanned": min(scanned, limit),
        "scan_truncated": scanned > limit,
        **summary.detail(),
    }


class _Summary:
    def __init__(self) -> None:
        self.queries = 0
        self.request_ids: list[str] = []
        self.outcomes: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self.sources: dict[str, dict[str, Any]] = {}
        self.types: list[str] = []
        self.actions = 0

    def add(self, request_id: str, outcome: str, body: Mapping[str, Any]) -> None:
        self.queries += 1
        if len(self.request_ids) < MAX_REQUEST_IDS:
            self.request_ids.append(request_id)
        self.outcomes[outcome] += 1
        self.routes[_route(body.get("route"))] += 1
        for access in _dicts(body.get("data_sources")):
            self._access(access)
        for _, kind in finding_types_of(body.get("verdicts")):
            if kind not in self.types and len(self.types) < _MAX_TYPES:
                self.types.append(kind)
        self.actions += len(_dicts(body.get("actions")))

    def _access(self, access: Mapping[str, Any]) -> None:
        source = _ident(access.get("source"))
        if source is None:
            return
        entry = self.sources.get(source)
        if entry is None:
            if len(self.sources) >= _MAX_SOURCES:
                return
            entry = self.sources[source] = {"accesses": 0, "ran": 0, "rows": 0, "tables": []}
        entry["accesses"] += 1
        if access.get("status") == "ran":
            entry["ran"] += 1
        rows = access.get("rows")
        if isinstance(rows, int) and not isinstance(rows, bool) and rows > 0:
            entry["rows"] += rows
        tables = access.get("tables")
        for table in tables if isinstance(tables, list) else []:
            name = _ident(table)
            if name is not None and name not in entry["tables"]:
                entry["tables"].append(name)

    def detail(self) -> dict[str, Any]:
        return {
            "queries": self.queries,
            "request_ids": self.request_ids,
            "request_ids_truncated": self.queries > len(self.request_ids),
            "outcomes": dict(sorted(self.outcomes.items())),
            "routes": dict(sorted(self.routes.items())),
            "data_sources": [
                {"source": source, **entry} for source, entry in sorted(self.sources.items())
            ],
            "rows_exposed": sum(int(e["rows"]) for e in self.sources.values()),
            "finding_types": self.types,
            "actions": self.actions,
        }


def _body(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _ident(value: object) -> str | None:
    return value if isinstance(value, str) and _IDENT.fullmatch(value) else None


def _route(value: object) -> str:
    return value if isinstance(value, str) and _ROUTE.fullmatch(value) else "?"
