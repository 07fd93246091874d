"""Who or what an incident is about: identifiers only, never content.

A :class:`Subject` comes from an alert (:meth:`Subject.from_alert`), from an audit
record (:meth:`Subject.from_audit_record`, e.g. the record an operator points at) or
is written by hand. Only ``tenant_id`` is required; a playbook step whose identifier
is missing records itself ``skipped`` or ``failed`` rather than guessing.

``finding_types`` are scanner finding types (``pii:EMAIL_ADDRESS``,
``injection:hijack``): identifiers of *kinds* of finding, the evidence the filter
steps build their rules from. Values that do not look like one are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

__all__ = ["MAX_FINDING_TYPES", "AlertLike", "Subject", "finding_types_of"]

MAX_FINDING_TYPES = 32
_TYPE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,80}")


class AlertLike(Protocol):
    """What a subject needs of an alert (``bastion.detection.Alert`` has it)."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def request_ids(self) -> tuple[str, ...]: ...
    @property
    def window_start(self) -> datetime: ...
    @property
    def key(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Subject:
    """The identifiers an incident is about. ``since``: where the evidence steps start
    reading the audit chain (default: the services' look-back before now)."""

    tenant_id: str
    user_id: str | None = None
    session_id: str | None = None
    key_id: str | None = None
    conversation_id: str | None = None
    request_id: str | None = None
    finding_types: tuple[str, ...] = ()
    since: datetime | None = None

    def __post_init__(self) -> None:
        if not self.tenant_id:
            raise ValueError("a subject needs a tenant id")
        for name in ("user_id", "session_id", "key_id", "conversation_id", "request_id"):
            value = getattr(self, name)
            if value is not None and not _ID.fullmatch(value):
                raise ValueError(f"Subject.{name} is not an identifier")
        if self.since is not None and self.since.tzinfo is None:
            raise ValueError("Subject.since must be timezone-aware")
        object.__setattr__(self, "finding_types", _clean_types(self.finding_types))

    def with_user(self, user_id: str) -> Subject:
        return replace(self, user_id=user_id)

    @classmethod
    def from_alert(cls, alert: AlertLike) -> Subject:
        """The alert's tenant and user, its latest request, and its window's start."""
        last = next((r for r in reversed(alert.request_ids) if r), None)
        return cls(
            tenant_id=alert.tenant_id,
            user_id=alert.user_id or None,
            request_id=last,
            since=alert.window_start,
        )

    @classmethod
    def from_audit_record(cls, record: Mapping[str, Any]) -> Subject:
        """The identifiers of an exported audit record (one ``export_jsonl`` line,
        parsed), and the finding types of its verdicts."""
        extra = record.get("extra")
        conversation = extra.get("conversation_id") if isinstance(extra, Mapping) else None
        tenant = record.get("tenant_id")
        if not isinstance(tenant, str) or not tenant:
            raise ValueError("the audit record names no tenant")
        return cls(
            tenant_id=tenant,
            user_id=_text(record.get("user_id")),
            session_id=_text(record.get("session_id")),
            key_id=_text(record.get("key_id")),
            conversation_id=_text(conversation),
            request_id=_text(record.get("request_id")),
            finding_types=tuple(t for _, t in finding_types_of(record.get("verdicts"))),
        )


def finding_types_of(verdicts: object, stage: str | None = None) -> list[tuple[str, str]]:
    """``(scanner, finding type)`` pairs of a record's ``verdicts`` (of one ``stage``
    when given), in order, without repeats; anything malformed is skipped."""
    found: list[tuple[str, str]] = []
    if not isinstance(verdicts, list):
        return found
    for verdict in verdicts:
        if not isinstance(verdict, Mapping):
            continue
        if stage is not None and verdict.get("stage") != stage:
            continue
        scanner = verdict.get("scanner")
        findings = verdict.get("findings")
        if not isinstance(scanner, str) or not isinstance(findings, list):
            continue
        for finding in findings:
            kind = finding.get("type") if isinstance(finding, Mapping) else None
            pair = (scanner, kind)
            if isinstance(kind, str) and _TYPE.fullmatch(kind) and pair not in found:
                found.append((scanner, kind))
    return found


def _clean_types(values: Iterable[object]) -> tuple[str, ...]:
    kept: list[str] = []
    for value in values:
        if isinstance(value, str) and _TYPE.fullmatch(value) and value not in kept:
            kept.append(value)
    return tuple(kept[:MAX_FINDING_TYPES])


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
