"""The tamper-evident audit log: one hash chain of records per tenant.

Write with :class:`AuditLog`, check with :func:`verify_chain`, hand records to an
auditor with :func:`export_jsonl`. The hashing scheme is documented in
:mod:`bastion.audit.record` so that it can be re-implemented independently.
"""

from bastion.audit.export import export_jsonl
from bastion.audit.record import (
    GENESIS_HASH,
    AuditEvent,
    AuditReceipt,
    canonical_body,
    record_hash,
)
from bastion.audit.sealing import SEALED_FIELDS, AuditSealer, sealer_for
from bastion.audit.verify import (
    Problem,
    SealedContentError,
    TenantReport,
    VerifyReport,
    verify_chain,
)
from bastion.audit.writer import AuditLog, AuditWriteError

__all__ = [
    "GENESIS_HASH",
    "SEALED_FIELDS",
    "AuditEvent",
    "AuditLog",
    "AuditReceipt",
    "AuditSealer",
    "AuditWriteError",
    "Problem",
    "SealedContentError",
    "TenantReport",
    "VerifyReport",
    "canonical_body",
    "export_jsonl",
    "record_hash",
    "sealer_for",
    "verify_chain",
]
