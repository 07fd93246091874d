"""One model-written statement against one source, as one caller: guard, then executor.

Used by ``POST /v1/sources/{id}/query`` and by the assistant's ``run_query`` tool, so
both take the same path: the guard rewrites the statement for the caller (tables,
columns, row filters bound from what the gateway knows of them, masks, row cap), the
read-only executor runs the rewrite, and the outcome carries what the audit record
needs (source, tables, row count, the SHA-256 of the model's SQL, the guard's reason)
without the SQL text or the rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bastion.datasources.executor import Executor, QueryFailed, QueryResult
from bastion.datasources.guard import check
from bastion.datasources.sources import Source, guard_policy_for

__all__ = ["QueryOutcome", "run_guarded"]

Status = Literal["ran", "refused", "failed"]


@dataclass(frozen=True, slots=True)
class QueryOutcome:
    status: Status
    source_id: str
    sql: str  # the statement that ran (the guard's rewrite); "" unless it ran
    tables: tuple[str, ...]
    query_hash: str  # SHA-256 of the model's statement
    guard: str  # the guard's reason ("ok" when it allowed the statement)
    error: str | None = None  # the executor's failure code, when it failed
    result: QueryResult | None = None

    @property
    def reason(self) -> str:
        """Why it did not run: the guard's reason or the failure code; else "ok"."""
        return self.error or self.guard

    @property
    def outcome(self) -> str:
        """The audit outcome: ``query_ran``, ``query_refused`` or ``query_failed``."""
        return f"query_{self.status}"

    def access(self) -> dict[str, Any]:
        """The audit record's ``data_sources`` entry: never the SQL text or the rows."""
        entry: dict[str, Any] = {
            "source": self.source_id,
            "tables": list(self.tables),
            "query_sha256": self.query_hash,
            "guard": self.guard,
            "status": self.status,
        }
        if self.error is not None:
            entry["error"] = self.error
        if self.result is not None:
            entry["rows"] = self.result.row_count
        return entry


def run_guarded(
    executor: Executor,
    source: Source,
    sql: str,
    *,
    user_id: str,
    role: str,
    params: Mapping[str, str],
    timeout_ms: int,
) -> QueryOutcome:
    """Check ``sql`` for this caller and run the rewrite; never raises for the query's
    own faults (a refusal or a database failure is an outcome). A row filter naming an
    attribute the caller lacks refuses (``missing_attribute``), never drops the filter.
    Blocking: call it in a worker thread."""
    try:
        policy = guard_policy_for(source, user_id, role, params)
    except ValueError as exc:  # fail closed: never run without its row filter
        reason = "missing_attribute" if "needs parameter" in str(exc) else "policy_invalid"
        digest = hashlib.sha256(sql.encode("utf-8", "surrogatepass")).hexdigest()
        return QueryOutcome("refused", source.id, "", (), digest, reason)
    verdict = check(sql, policy)
    tables = tuple(verdict.tables)
    if not verdict.allowed:
        return QueryOutcome("refused", source.id, "", tables, verdict.query_hash, verdict.reason)
    try:
        result = executor.run(
            source, verdict.sql, timeout_ms=timeout_ms, row_cap=source.config.row_cap
        )
    except QueryFailed as exc:
        return QueryOutcome(
            "failed", source.id, "", tables, verdict.query_hash, verdict.reason, exc.code
        )
    return QueryOutcome(
        "ran", source.id, verdict.sql, tables, verdict.query_hash, verdict.reason, result=result
    )
