"""Every column in the store that holds field blobs sealed by ``Keyring.encrypt``.

Data-key rotation re-encrypts exactly these; a capability that stores a new sealed
field adds its column here (a test checks that every LargeBinary column is listed
or explicitly exempt).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from bastion.crypto.rotation import SealedColumn
from bastion.store.schema import (
    AgentActionRow,
    AssistantConversationRow,
    AuditRecord,
    DataSourceRow,
    DocumentChunkRow,
    IncidentStepRow,
    PseudonymVaultRow,
    SealedSecret,
)
from bastion.store.schema_feedback import FeedbackRow

__all__ = ["SEALED_COLUMNS"]

SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn(cast(Table, AuditRecord.__table__), "audit", blob="sealed", aad_column="hash"),
    SealedColumn(cast(Table, SealedSecret.__table__), "app", blob="sealed", aad_column="id"),
    SealedColumn(cast(Table, PseudonymVaultRow.__table__), "app", blob="sealed", aad_column="id"),
    SealedColumn(cast(Table, DataSourceRow.__table__), "app", blob="sealed_url", aad_column="id"),
    SealedColumn(cast(Table, DocumentChunkRow.__table__), "app", blob="sealed", aad_column="id"),
    SealedColumn(
        cast(Table, AssistantConversationRow.__table__), "app", blob="sealed", aad_column="id"
    ),
    SealedColumn(cast(Table, AgentActionRow.__table__), "app", blob="sealed", aad_column="id"),
    SealedColumn(
        cast(Table, AgentActionRow.__table__), "app", blob="sealed_detail", aad_column="id"
    ),
    SealedColumn(cast(Table, IncidentStepRow.__table__), "app", blob="sealed", aad_column="id"),
    SealedColumn(cast(Table, FeedbackRow.__table__), "app", blob="sealed", aad_column="id"),
)
