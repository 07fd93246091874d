"""Check the hash chains in the database and report the first fault per tenant.

``verify_chain`` reads one consistent snapshot, streaming records ordered by
``(tenant_id, seq)`` so memory stays bounded however long the chains are. For every
record it recomputes the hash (see :mod:`bastion.audit.record` for the scheme),
checks that the ``ts``, ``request_id`` and ``outcome`` columns equal the hashed body,
that seq numbers run 1, 2, ... without gaps and that each ``prev_hash`` is the hash
of the record before; after the last record it compares the tenant's head row.
How faults are told apart is described in ``_tenant_check``. Reports carry seq
numbers, row ids and request ids, never record content.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any, cast

from sqlalchemy import Engine, Row, Table, select

from bastion.audit._tenant_check import Problem, check_tenant
from bastion.audit._tenant_check import Row as ChainRow
from bastion.audit.sealing import AuditSealer
from bastion.store.schema import AuditHead, AuditRecord
from bastion.store.transactions import read_snapshot

__all__ = ["Problem", "SealedContentError", "TenantReport", "VerifyReport", "verify_chain"]

_RECORDS = cast(Table, AuditRecord.__table__)
_HEADS = cast(Table, AuditHead.__table__)
_YIELD_PER = 1000


@dataclass(frozen=True, slots=True)
class TenantReport:
    """The verdict on one tenant's chain.

    When ``ok`` is false, ``problem`` names the kind of fault and ``seq`` the first
    position in the chain that is wrong: the bad row's seq, or for ``deleted`` the
    first missing seq (``record_id``/``request_id`` then name the row found after the
    gap) and for ``truncated`` the first seq missing at the tail (no row).
    ``count`` is the number of records of the tenant that were read.
    """

    tenant_id: str
    ok: bool
    count: int
    problem: Problem | None = None
    seq: int | None = None
    record_id: int | None = None
    request_id: str | None = None
    detail: str = ""

    def describe(self) -> str:
        """One line for people: the verdict, and where and why the chain breaks."""
        if self.ok:
            return f"tenant {self.tenant_id}: ok, {self.count} records"
        where = f"seq {self.seq}"
        if self.record_id is not None:
            where += f" (row id {self.record_id}, request_id {self.request_id})"
        return f"tenant {self.tenant_id}: {self.problem} at {where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Per-tenant reports; ``ok`` when every chain verified."""

    tenants: Mapping[str, TenantReport]

    @property
    def ok(self) -> bool:
        return all(report.ok for report in self.tenants.values())

    @property
    def failures(self) -> list[TenantReport]:
        return [report for report in self.tenants.values() if not report.ok]

    def __getitem__(self, tenant_id: str) -> TenantReport:
        return self.tenants[tenant_id]

    def describe(self) -> str:
        """A summary line, then one line per tenant."""
        records = sum(report.count for report in self.tenants.values())
        verdict = "ok" if self.ok else f"TAMPERED in {len(self.failures)} tenant(s)"
        lines = [f"audit log {verdict}: {len(self.tenants)} tenant(s), {records} record(s)"]
        lines.extend(report.describe() for report in self.tenants.values())
        return "\n".join(lines)


class SealedContentError(ValueError):
    """Sealed records cannot be verified without the key-encryption key."""

    def __init__(self) -> None:
        super().__init__(
            "the audit log holds sealed records: verifying them needs the key-encryption "
            "key (BASTION_KEK_FILE)"
        )


def verify_chain(
    engine: Engine, tenant_id: str | None = None, *, sealer: AuditSealer | None = None
) -> VerifyReport:
    """Verify every tenant's chain, or only ``tenant_id``'s.

    Every tenant is cross-tenant maintenance work: on PostgreSQL, ``engine`` must
    then connect as the owner (``TenantScopeError`` otherwise); one tenant's chain is
    read bound to that tenant, which the application role may do.

    Records whose content is sealed need ``sealer`` (the key-encryption key) to be
    checked: the hash covers the plaintext. A sealed part that does not open makes its
    record fail as modified.
    """
    heads_query = select(_HEADS.c.tenant_id, _HEADS.c.seq, _HEADS.c.hash)
    records_query = select(
        _RECORDS.c.tenant_id,
        _RECORDS.c.id,
        _RECORDS.c.seq,
        _RECORDS.c.ts,
        _RECORDS.c.request_id,
        _RECORDS.c.outcome,
        _RECORDS.c.body,
        _RECORDS.c.sealed,
        _RECORDS.c.prev_hash,
        _RECORDS.c.hash,
    ).order_by(_RECORDS.c.tenant_id, _RECORDS.c.seq, _RECORDS.c.id)
    if tenant_id is not None:
        heads_query = heads_query.where(_HEADS.c.tenant_id == tenant_id)
        records_query = records_query.where(_RECORDS.c.tenant_id == tenant_id)
    reports: dict[str, TenantReport] = {}
    with read_snapshot(engine, tenant_id) as conn:
        heads = {row.tenant_id: (int(row.seq), str(row.hash)) for row in conn.execute(heads_query)}
        # Closed on every way out (a sealed record without a sealer stops midway): on
        # PostgreSQL ``yield_per`` holds a server-side cursor open until then.
        with conn.execution_options(yield_per=_YIELD_PER).execute(records_query) as result:
            for tenant, rows in groupby(result, key=lambda row: str(row.tenant_id)):
                chain = _chain_rows(rows, tenant, sealer)
                reports[tenant] = _report(tenant, chain, heads.get(tenant))
    for tenant, head in heads.items():
        if tenant not in reports:
            reports[tenant] = _report(tenant, iter(()), head)
    if tenant_id is not None and tenant_id not in reports:
        reports[tenant_id] = TenantReport(tenant_id=tenant_id, ok=True, count=0)
    return VerifyReport(tenants=dict(sorted(reports.items())))


def _chain_rows(
    rows: Iterator[Row[*tuple[Any, ...]]], tenant: str, sealer: AuditSealer | None
) -> Iterator[ChainRow]:
    for row in rows:
        body = row.body
        if row.sealed is not None:
            if sealer is None:
                raise SealedContentError()
            body = sealer.merge(tenant, row.hash, row.body, row.sealed) or row.body
        yield ChainRow(
            id=row.id,
            seq=row.seq,
            ts=row.ts,
            request_id=row.request_id,
            outcome=row.outcome,
            body=body,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )


def _report(tenant: str, rows: Iterator[ChainRow], head: tuple[int, str] | None) -> TenantReport:
    count, fault = check_tenant(tenant, rows, head)
    if fault is None:
        return TenantReport(tenant_id=tenant, ok=True, count=count)
    return TenantReport(
        tenant_id=tenant,
        ok=False,
        count=count,
        problem=fault.problem,
        seq=fault.seq,
        record_id=fault.record_id,
        request_id=fault.request_id,
        detail=fault.detail,
    )
