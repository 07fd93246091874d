"""The overview page's figures for one tenant: requests and blocks per hour, blocks by
reason, the busiest users and the latest alerts, read from the tenant's audit chain
(metadata only: never a prompt or an answer)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, select

from bastion.store.schema import AuditRecord, User
from bastion.store.transactions import read_snapshot

__all__ = ["Bar", "Overview", "overview"]

SCAN_LIMIT = 50_000
_CHART_HEIGHT = 120


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    total: int
    blocked: int
    x: int
    total_height: int
    blocked_height: int


@dataclass(frozen=True, slots=True)
class Overview:
    since: datetime
    requests: int = 0
    blocked: int = 0
    bars: list[Bar] = field(default_factory=list)
    reasons: list[tuple[str, int]] = field(default_factory=list)
    users: list[tuple[str, int, int]] = field(default_factory=list)  # email, requests, blocked
    alerts: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    chart_height: int = _CHART_HEIGHT


def _is_block(outcome: str) -> bool:
    return outcome.startswith("blocked") or outcome in ("refused", "denied", "error")


def overview(engine: Engine, tenant_id: str, now: datetime, hours: int = 24) -> Overview:
    since = now - timedelta(hours=hours)
    query = (
        select(AuditRecord.ts, AuditRecord.outcome, AuditRecord.body)
        .where(AuditRecord.tenant_id == tenant_id, AuditRecord.ts >= since)
        .order_by(AuditRecord.seq.desc())
        .limit(SCAN_LIMIT + 1)
    )
    with read_snapshot(engine, tenant_id) as conn:
        rows = conn.execute(query).all()
        emails = dict(
            conn.execute(select(User.id, User.email).where(User.tenant_id == tenant_id)).all()
        )
    truncated = len(rows) > SCAN_LIMIT
    per_hour: Counter[int] = Counter()
    blocked_per_hour: Counter[int] = Counter()
    reasons: Counter[str] = Counter()
    users: Counter[str] = Counter()
    users_blocked: Counter[str] = Counter()
    alerts: list[dict[str, Any]] = []
    for ts, outcome, raw in rows[:SCAN_LIMIT]:
        body = orjson.loads(raw)
        route = str(body.get("route", ""))
        if route == "alert":
            extra = body.get("extra") or {}
            if len(alerts) < 10:
                alerts.append(
                    {
                        "ts": ts,
                        "detector": str(extra.get("detector", "")),
                        "severity": str(extra.get("severity", "")),
                        "summary": str(extra.get("summary", ""))[:200],
                    }
                )
            continue
        if route in ("incident", "governance"):
            continue
        hour = int((ts - since).total_seconds() // 3600)
        user = str(body.get("user_id") or "")
        per_hour[hour] += 1
        users[user] += 1
        if _is_block(str(outcome)):
            blocked_per_hour[hour] += 1
            users_blocked[user] += 1
            reasons[str(body.get("error_code") or outcome)] += 1
    peak = max(per_hour.values(), default=0) or 1
    bars = []
    for hour in range(hours):
        total, blocked = per_hour[hour], blocked_per_hour[hour]
        label = (since + timedelta(hours=hour)).strftime("%H:00")
        bars.append(
            Bar(
                label=label,
                total=total,
                blocked=blocked,
                x=hour * 20,
                total_height=round(_CHART_HEIGHT * total / peak),
                blocked_height=round(_CHART_HEIGHT * blocked / peak),
            )
        )
    top = [
        (emails.get(user, user or "(none)"), count, users_blocked[user])
        for user, count in users.most_common(10)
    ]
    return Overview(
        since=since,
        requests=sum(per_hour.values()),
        blocked=sum(blocked_per_hour.values()),
        bars=bars,
        reasons=reasons.most_common(10),
        users=top,
        alerts=alerts,
        truncated=truncated,
    )
