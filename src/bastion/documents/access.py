"""Which collections and chunks a caller may use: the permission filter, in SQL.

A collection is a data source of kind ``documents``; its owner uploads and deletes,
and whoever may see it (:func:`bastion.datasources.sources.visible_to`: the owner, or
shared with the user or their role) lists and searches it. Search filters here, before
anything is opened or ranked: :func:`candidates` selects only chunks of ``active``
documents in enabled collections the caller may see, at most :data:`MAX_CANDIDATES`
(+1, so the store can tell the caller to narrow the search).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Select, select

from bastion.datasources.sources import DOCUMENTS, SourceNotFound, require_owner, visible_to
from bastion.documents.errors import DocumentError
from bastion.documents.ingest import ACTIVE
from bastion.store.schema import DataSourceRow, DocumentChunkRow, DocumentRow

__all__ = [
    "MAX_CANDIDATES",
    "MAX_SOURCE_IDS",
    "candidates",
    "owned_collection",
    "require_visible",
    "source_filter",
]

MAX_CANDIDATES = 50_000
MAX_SOURCE_IDS = 50


def owned_collection(conn: Connection, tenant_id: str, source_id: str, user_id: str) -> None:
    """Pass if the caller owns ``source_id`` and it is a documents collection."""
    require_owner(conn, tenant_id, source_id, user_id)
    kind = conn.execute(
        select(DataSourceRow.kind).where(
            DataSourceRow.tenant_id == tenant_id, DataSourceRow.id == source_id
        )
    ).scalar()
    if kind != DOCUMENTS:
        raise DocumentError(
            "not a documents collection: documents go in a source of kind documents"
        )


def require_visible(
    conn: Connection, tenant_id: str, user_id: str, role: str, source_ids: Sequence[str]
) -> None:
    """SourceNotFound unless every one of ``source_ids`` is a documents collection the
    caller may see (a database source the caller may see is a DocumentError)."""
    rows = conn.execute(
        select(DataSourceRow.id, DataSourceRow.kind).where(
            DataSourceRow.tenant_id == tenant_id,
            DataSourceRow.id.in_(source_ids),
            DataSourceRow.disabled.is_(False),
            visible_to(tenant_id, user_id, role),
        )
    ).all()
    kinds = {row.id: row.kind for row in rows}
    if any(source_id not in kinds for source_id in source_ids):
        raise SourceNotFound()
    if any(kind != DOCUMENTS for kind in kinds.values()):
        raise DocumentError("not a documents collection: a database source is queried with SQL")


def source_filter(source_ids: Sequence[str] | None) -> list[str] | None:
    """The distinct collections a search names (None: every visible one)."""
    if source_ids is None:
        return None
    if isinstance(source_ids, str):
        raise TypeError("source_ids is a sequence of ids, not one string")
    unique = list(dict.fromkeys(source_ids))
    if not unique or len(unique) > MAX_SOURCE_IDS:
        raise DocumentError(f"source_ids names 1 to {MAX_SOURCE_IDS} collections")
    return unique


def candidates(
    tenant_id: str, user_id: str, role: str, source_ids: Sequence[str] | None
) -> Select[str, str, str, int, str, bytes, str, str]:
    """SQL: the chunks the caller may read, the permission filter before any ranking."""
    query = (
        select(
            DocumentChunkRow.id,
            DocumentChunkRow.source_id,
            DocumentChunkRow.document_id,
            DocumentChunkRow.ord,
            DocumentChunkRow.embedder,
            DocumentChunkRow.sealed,
            DocumentRow.name.label("document_name"),
            DataSourceRow.name.label("source_name"),
        )
        .join(DocumentRow, DocumentRow.id == DocumentChunkRow.document_id)
        .join(DataSourceRow, DataSourceRow.id == DocumentRow.source_id)
        .where(
            DocumentChunkRow.tenant_id == tenant_id,
            DocumentRow.tenant_id == tenant_id,
            DataSourceRow.tenant_id == tenant_id,
            DocumentChunkRow.source_id == DocumentRow.source_id,
            DocumentRow.status == ACTIVE,
            DataSourceRow.kind == DOCUMENTS,
            DataSourceRow.disabled.is_(False),
            visible_to(tenant_id, user_id, role),
        )
        .order_by(DataSourceRow.name, DocumentRow.created_at, DocumentRow.id, DocumentChunkRow.ord)
        .limit(MAX_CANDIDATES + 1)
    )
    if source_ids is not None:
        query = query.where(DataSourceRow.id.in_(source_ids))
    return query
