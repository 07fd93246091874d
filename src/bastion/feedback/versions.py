"""Each source's knowledge as a sequence of versions, and rollback to any of them.

Every accepted change to what a source teaches the assistant is one version of that
source (table ``knowledge_versions``, numbered from 1; version 0 is the empty source):
a document accepted at upload (``document_added``) or released from quarantine
(``document_released``), a document deleted (``document_removed``), a feedback with
a correction accepted or released for the source (``feedback_accepted``,
``feedback_released``), and a rollback (``rollback``, naming its ``target_version``).

The knowledge at a version is found by replaying the log up to it: adds and releases
put an item in, a removal takes it out, a rollback replaces the set with the one at
its target. :meth:`KnowledgeVersions.rollback` makes that set the live one: items in it
become ``active`` (documents) or ``accepted`` (feedback) again, every other item that
was live becomes ``rolled_back`` and is never retrieved. Quarantined and rejected
items are never knowledge and are left alone; a deleted document is erased and does
not come back. A rollback is itself a new version, so it can be undone by rolling
back to the version before it.

Versions are numbered under a lock on the source's row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite serialises writers), in the same transaction as the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Engine, func, insert, select, update

from bastion.feedback.errors import KnowledgeConflict, KnowledgeError, KnowledgeNotFound
from bastion.store.schema import DataSourceRow, DocumentRow
from bastion.store.schema_feedback import FeedbackRow, KnowledgeVersionRow
from bastion.store.tenancy import tenant_begin, tenant_connect

__all__ = [
    "ADDS",
    "Change",
    "KnowledgeVersions",
    "Rollback",
    "Version",
    "knowledge_at",
    "record_version",
]

Change = Literal[
    "document_added",
    "document_released",
    "document_removed",
    "feedback_accepted",
    "feedback_released",
    "rollback",
]
RefKind = Literal["document", "feedback", "source"]
ADDS = frozenset({"document_added", "document_released", "feedback_accepted", "feedback_released"})
_REMOVES = frozenset({"document_removed"})
Item = tuple[str, str]  # (ref_kind, ref_id)


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    change: str
    ref_kind: str
    ref_id: str
    target_version: int | None
    actor: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Rollback:
    """What a rollback did: the new ``version``, the ``target`` it returned to, the
    items it took out of and put back into retrieval, and how many of the target's
    documents were deleted since (``gone``: they cannot come back)."""

    version: int
    target: int
    withdrawn: tuple[Item, ...]
    restored: tuple[Item, ...]
    gone: int


def knowledge_at(history: Sequence[Version], version: int) -> frozenset[Item]:
    """The items live at ``version``, replaying ``history`` (ordered by version)."""
    live: set[Item] = set()
    at: dict[int, frozenset[Item]] = {0: frozenset()}
    for entry in history:
        if entry.version > version:
            break
        item = (entry.ref_kind, entry.ref_id)
        if entry.change in ADDS:
            live.add(item)
        elif entry.change in _REMOVES:
            live.discard(item)
        elif entry.change == "rollback" and entry.target_version is not None:
            live = set(at.get(entry.target_version, frozenset()))
        at[entry.version] = frozenset(live)
    return frozenset(live)


def record_version(
    conn: Connection,
    tenant_id: str,
    source_id: str,
    *,
    change: Change,
    ref_kind: RefKind,
    ref_id: str,
    actor: str,
    now: datetime,
    target_version: int | None = None,
) -> int:
    """Append the next version of ``source_id`` in ``conn``'s transaction; its number."""
    _lock_source(conn, tenant_id, source_id)
    current = _current(conn, tenant_id, source_id)
    conn.execute(
        insert(KnowledgeVersionRow).values(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            source_id=source_id,
            version=current + 1,
            change=change,
            ref_kind=ref_kind,
            ref_id=ref_id,
            target_version=target_version,
            actor=actor,
            created_at=now,
        )
    )
    return current + 1


class KnowledgeVersions:
    """Read a source's versions and roll it back (callers check the permission)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def __repr__(self) -> str:
        return "KnowledgeVersions()"

    def history(self, tenant_id: str, source_id: str) -> list[Version]:
        """Every version of the source, oldest first (KnowledgeNotFound: no source)."""
        with tenant_connect(self._engine, tenant_id) as conn:
            _require_source(conn, tenant_id, source_id)
            return _history(conn, tenant_id, source_id)

    def rollback(self, tenant_id: str, source_id: str, target: int, actor: str) -> Rollback:
        """Make the knowledge at version ``target`` the live one (see the module doc)."""
        with tenant_begin(self._engine, tenant_id) as conn:
            _require_source(conn, tenant_id, source_id)
            _lock_source(conn, tenant_id, source_id)
            history = _history(conn, tenant_id, source_id)
            current = history[-1].version if history else 0
            if not 0 <= target <= current:
                raise KnowledgeError(f"version must be between 0 and {current}")
            if target == current:
                raise KnowledgeConflict("the source is already at that version")
            wanted = knowledge_at(history, target)
            withdrawn, restored = _apply(conn, tenant_id, source_id, wanted)
            present = {item for item in wanted if item[0] == "document"}
            remaining = _document_ids(conn, tenant_id, source_id)
            gone = sum(1 for _, ref in present if ref not in remaining)
            version = record_version(
                conn,
                tenant_id,
                source_id,
                change="rollback",
                ref_kind="source",
                ref_id=source_id,
                actor=actor,
                now=self._clock(),
                target_version=target,
            )
        return Rollback(version, target, withdrawn, restored, gone)


def _apply(
    conn: Connection, tenant_id: str, source_id: str, wanted: frozenset[Item]
) -> tuple[tuple[Item, ...], tuple[Item, ...]]:
    """Set every live-able item's status to match ``wanted``; (withdrawn, restored)."""
    withdrawn: list[Item] = []
    restored: list[Item] = []
    docs = conn.execute(
        select(DocumentRow.id, DocumentRow.status).where(
            DocumentRow.tenant_id == tenant_id,
            DocumentRow.source_id == source_id,
            DocumentRow.status.in_(("active", "rolled_back")),
        )
    ).all()
    for doc_id, status in docs:
        live = ("document", doc_id) in wanted
        new = "active" if live else "rolled_back"
        if new != status:
            (restored if live else withdrawn).append(("document", doc_id))
            conn.execute(
                update(DocumentRow)
                .where(DocumentRow.tenant_id == tenant_id, DocumentRow.id == doc_id)
                .values(status=new)
            )
    notes = conn.execute(
        select(FeedbackRow.id, FeedbackRow.status).where(
            FeedbackRow.tenant_id == tenant_id,
            FeedbackRow.source_id == source_id,
            FeedbackRow.status.in_(("accepted", "rolled_back")),
        )
    ).all()
    for note_id, status in notes:
        live = ("feedback", note_id) in wanted
        new = "accepted" if live else "rolled_back"
        if new != status:
            (restored if live else withdrawn).append(("feedback", note_id))
            conn.execute(
                update(FeedbackRow)
                .where(FeedbackRow.tenant_id == tenant_id, FeedbackRow.id == note_id)
                .values(status=new)
            )
    return tuple(withdrawn), tuple(restored)


def _document_ids(conn: Connection, tenant_id: str, source_id: str) -> set[str]:
    rows = conn.execute(
        select(DocumentRow.id).where(
            DocumentRow.tenant_id == tenant_id, DocumentRow.source_id == source_id
        )
    ).scalars()
    return set(rows)


def _history(conn: Connection, tenant_id: str, source_id: str) -> list[Version]:
    rows = conn.execute(
        select(
            KnowledgeVersionRow.version,
            KnowledgeVersionRow.change,
            KnowledgeVersionRow.ref_kind,
            KnowledgeVersionRow.ref_id,
            KnowledgeVersionRow.target_version,
            KnowledgeVersionRow.actor,
            KnowledgeVersionRow.created_at,
        )
        .where(
            KnowledgeVersionRow.tenant_id == tenant_id,
            KnowledgeVersionRow.source_id == source_id,
        )
        .order_by(KnowledgeVersionRow.version)
    ).all()
    return [Version(*row) for row in rows]


def _current(conn: Connection, tenant_id: str, source_id: str) -> int:
    found = conn.execute(
        select(func.max(KnowledgeVersionRow.version)).where(
            KnowledgeVersionRow.tenant_id == tenant_id,
            KnowledgeVersionRow.source_id == source_id,
        )
    ).scalar()
    return int(found or 0)


def _lock_source(conn: Connection, tenant_id: str, source_id: str) -> None:
    """Serialise version numbering per source (FOR UPDATE is a no-op on SQLite)."""
    conn.execute(
        select(DataSourceRow.id)
        .where(DataSourceRow.tenant_id == tenant_id, DataSourceRow.id == source_id)
        .with_for_update()
    ).first()


def _require_source(conn: Connection, tenant_id: str, source_id: str) -> None:
    found = conn.execute(
        select(DataSourceRow.id).where(
            DataSourceRow.tenant_id == tenant_id, DataSourceRow.id == source_id
        )
    ).first()
    if found is None:
        raise KnowledgeNotFound("no such source")
