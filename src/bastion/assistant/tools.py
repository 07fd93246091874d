"""The assistant's tools, run by the gateway as the caller, never as the model.

The model may ask for ``list_sources``, ``describe_source``, ``run_query`` and
``search_documents``; whatever it asks, with whatever arguments, the gateway decides:

* only sources the caller owns or that are shared with them or their role exist
  (anything else is "no such source", the same as a made-up id);
* ``run_query`` goes through the query guard as the caller (their tables, columns and
  rows, masks, the row cap) and the read-only executor (:func:`run_guarded`);
* ``search_documents`` ranks only chunks of collections the caller may read.

Each call yields a :class:`ToolOutcome`: the text the model will see (JSON, scanned
by the service before the model sees it), what the audit record keeps of the access,
and the exact query shown to the user. A malformed or unknown call is an error result
for the model, never an exception: the model is untrusted and may emit anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bastion.datasources._source_config import rules_for
from bastion.datasources.executor import Executor
from bastion.datasources.queries import QueryOutcome, run_guarded
from bastion.datasources.sources import (
    DataSources,
    Source,
    SourceError,
    SourceInfo,
    SourceNotFound,
)
from bastion.governance.residency import DataHop
from bastion.identity.caller_ref import CallerRef

__all__ = ["TOOL_NAMES", "TOOL_SPECS", "CallerRef", "Searcher", "ToolBox", "ToolOutcome"]

_MAX_ROWS_TO_MODEL = 50
_MAX_RESULT_CHARS = 12_000


def _spec(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


_SOURCE = {"type": "string", "description": "The source's id or name, from list_sources."}
TOOL_SPECS: tuple[dict[str, Any], ...] = (
    _spec("list_sources", "The data sources and document collections you may use.", {}, []),
    _spec(
        "describe_source",
        "The tables and columns of one database source you may read.",
        {"source": _SOURCE},
        ["source"],
    ),
    _spec(
        "run_query",
        "Run one read-only SQL SELECT on a database source, in its dialect.",
        {"source": _SOURCE, "sql": {"type": "string", "description": "One SELECT."}},
        ["source", "sql"],
    ),
    _spec(
        "search_documents",
        "Search the document collections you may read; returns the best passages.",
        {
            "query": {"type": "string"},
            "k": {"type": "integer", "minimum": 1, "maximum": 10},
        },
        ["query"],
    ),
)
TOOL_NAMES = frozenset(spec["function"]["name"] for spec in TOOL_SPECS)


class Hit(Protocol):
    @property
    def source_id(self) -> str: ...
    @property
    def source_name(self) -> str: ...
    @property
    def document_id(self) -> str: ...
    @property
    def document_name(self) -> str: ...
    @property
    def ord(self) -> int: ...
    @property
    def text(self) -> str: ...


class Searcher(Protocol):
    def search(
        self, tenant_id: str, user_id: str, role: str, query: str, k: int = 5
    ) -> Sequence[Hit]: ...


@dataclass(slots=True)
class ToolOutcome:
    content: str  # for the model (JSON), before the service scans it
    status: str  # ok | ran | refused | failed | error
    access: dict[str, Any] | None = None  # the audit record's data_sources entry
    query: dict[str, Any] | None = None  # shown to the user: the exact SQL that ran
    documents: list[dict[str, Any]] = field(default_factory=list)


class ToolBox:
    """Runs one tool call for one caller. Blocking (database work): call it in a thread."""

    def __init__(
        self,
        sources: DataSources,
        executor: Executor,
        params_for: Callable[[CallerRef], Mapping[str, str]],
        *,
        documents: Searcher | None = None,
        timeout_ms: int = 10_000,
    ) -> None:
        self._sources = sources
        self._executor = executor
        self._params_for = params_for
        self._documents = documents
        self._timeout_ms = timeout_ms

    def __repr__(self) -> str:
        return "ToolBox()"

    def run(
        self, caller: CallerRef, name: str, arguments: str, hop: DataHop | None = None
    ) -> ToolOutcome:
        """``hop``: the tenant's residency rules and the model the rows would reach."""
        if name not in TOOL_NAMES:
            return _error(f"unknown tool {name[:64]!r}; the tools are {sorted(TOOL_NAMES)}")
        try:
            args = json.loads(arguments or "{}")
        except (ValueError, RecursionError):
            return _error("the arguments are not valid JSON")
        if not isinstance(args, dict):
            return _error("the arguments must be a JSON object")
        try:
            if name == "list_sources":
                return self._list(caller)
            if name == "describe_source":
                return self._describe(caller, _text(args, "source"))
            if name == "run_query":
                return self._query(caller, _text(args, "source"), _text(args, "sql"), hop)
            return self._search(caller, _text(args, "query"), args.get("k", 5))
        except _BadArgument as exc:
            return _error(str(exc))
        except SourceNotFound:
            return _error("no such source (use list_sources)")
        except SourceError as exc:  # says what to fix; never a URL, text or query
            return _error(str(exc)[:200] or "the source cannot be used right now")

    def _visible(self, caller: CallerRef) -> list[SourceInfo]:
        return self._sources.visible(caller.tenant_id, caller.user_id, caller.role)

    def _open(self, caller: CallerRef, ref: str) -> Source:
        """The source by id or name, if the caller may use it; else SourceNotFound."""
        for info in self._visible(caller):
            if ref in (info.id, info.name):
                return self._sources.get_for(caller.tenant_id, info.id, caller.user_id, caller.role)
        raise SourceNotFound()

    def _list(self, caller: CallerRef) -> ToolOutcome:
        listing = [{"id": i.id, "name": i.name, "kind": i.kind} for i in self._visible(caller)]
        return ToolOutcome(_json({"sources": listing}), "ok")

    def _describe(self, caller: CallerRef, ref: str) -> ToolOutcome:
        source = self._open(caller, ref)
        if source.kind not in ("postgres", "mysql", "sqlite"):
            return _error("not a database source; use search_documents")
        tables = {
            name: {
                "columns": sorted(rule.columns) if rule.columns is not None else "all",
                "masked": sorted(rule.masked),
            }
            for name, rule in rules_for(source.config, caller.user_id, caller.role).items()
        }
        body = {"id": source.id, "name": source.name, "dialect": source.kind, "tables": tables}
        return ToolOutcome(_json(body), "ok")

    def _query(self, caller: CallerRef, ref: str, sql: str, hop: DataHop | None) -> ToolOutcome:
        source = self._open(caller, ref)
        if source.kind not in ("postgres", "mysql", "sqlite"):
            return _error("not a database source; use search_documents")
        refusal = hop.refusal(source.config.classification, source.config.region) if hop else None
        if refusal is not None:
            access = {"source": source.id, "status": "refused", "error": "residency_denied"}
            return ToolOutcome(_json({"error": refusal}), "refused", access)
        outcome = run_guarded(
            self._executor,
            source,
            sql,
            user_id=caller.user_id,
            role=caller.role,
            params=self._params_for(caller),
            timeout_ms=self._timeout_ms,
        )
        return _query_outcome(source, outcome)

    def _search(self, caller: CallerRef, query: str, k: object) -> ToolOutcome:
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 10:
            raise _BadArgument("k must be an integer from 1 to 10")
        if self._documents is None:
            return _error("document search is not enabled on this gateway")
        hits = self._documents.search(caller.tenant_id, caller.user_id, caller.role, query, k)
        passages = [
            {"source": h.source_name, "document": h.document_name, "part": h.ord, "text": h.text}
            for h in hits
        ]
        cited = [
            {"source_id": h.source_id, "document_id": h.document_id, "part": h.ord} for h in hits
        ]
        by_source: dict[str, list[str]] = {}
        for h in hits:
            by_source.setdefault(h.source_id, []).append(h.document_id)
        access = {
            "search": True,
            "sources": sorted(by_source),
            "documents": sorted({h.document_id for h in hits}),
            "chunks": len(hits),
        }
        return ToolOutcome(_json({"passages": passages}), "ok", access, documents=cited)


def _query_outcome(source: Source, outcome: QueryOutcome) -> ToolOutcome:
    shown: dict[str, Any] = {
        "source_id": source.id,
        "source": source.name,
        "status": outcome.status,
        "sql": outcome.sql or None,
        "tables": list(outcome.tables),
    }
    if outcome.status == "refused":
        shown["reason"] = outcome.reason
        body: dict[str, Any] = {"error": f"the query was refused by the guard ({outcome.reason})"}
        return ToolOutcome(_json(body), "refused", outcome.access(), shown)
    if outcome.status == "failed" or outcome.result is None:
        shown["reason"] = outcome.reason
        body = {"error": f"the database did not answer ({outcome.reason})"}
        return ToolOutcome(_json(body), "failed", outcome.access(), shown)
    result = outcome.result
    shown.update(row_count=result.row_count, truncated=result.truncated)
    body = {
        "sql": outcome.sql,
        "columns": list(result.columns),
        "rows": [list(row) for row in result.rows[:_MAX_ROWS_TO_MODEL]],
        "row_count": result.row_count,
        "truncated": result.truncated or result.row_count > _MAX_ROWS_TO_MODEL,
    }
    return ToolOutcome(_json(body), "ran", outcome.access(), shown)


class _BadArgument(ValueError):
    pass


def _text(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _BadArgument(f"{key!r} must be a non-empty string")
    if len(value) > 20_000:
        raise _BadArgument(f"{key!r} is too long")
    return value


def _error(message: str) -> ToolOutcome:
    return ToolOutcome(_json({"error": message}), "error")


def _json(body: Mapping[str, Any]) -> str:
    text = json.dumps(body, default=str, ensure_ascii=False, separators=(",", ":"))
    if len(text) > _MAX_RESULT_CHARS:
        return text[:_MAX_RESULT_CHARS] + "…(cut)"
    return text
