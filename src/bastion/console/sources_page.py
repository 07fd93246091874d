"""``/console/sources``: the data sources a caller may see (``datasources.use``), their
rules as they apply to the caller, their shares, and a form to try a query.

The same services and rules as ``/v1/sources``: visibility is ``DataSources.visible``
and ``get_for`` (another user's unshared source does not exist here either); sharing
and withdrawing a share are the owner's (``DataSources.share`` / ``unshare``), each one
audit record (``source_shared``, ``source_unshared`` or ``source_change_refused``). A
tried query takes the API's path exactly: ``run_guarded`` as the caller (their tables,
columns, masks, and row filters bound from the attributes the gateway holds of them),
the read-only executor, one ``query_*`` record with the SQL's SHA-256 and never its
text or rows. The page shows the guard's decision, the rewritten SQL and the rows.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from bastion.audit.decisions import record_decision
from bastion.authz import ROLES
from bastion.console.kit import ConsoleKit
from bastion.console.pages import page_named
from bastion.console.sources_view import source_views
from bastion.datasources.queries import QueryOutcome, run_guarded
from bastion.datasources.sources import DataSources, SourceError, SourceForbidden, SourceNotFound
from bastion.gateway.callers import Caller
from bastion.identity.attributes import UnknownUser, UserAttributes, caller_params
from bastion.identity.directory import Directory

__all__ = ["router"]

MAX_SQL_CHARS = 20_000  # as POST /v1/sources/{id}/query
MAX_ROWS_SHOWN = 200
TIMEOUT_MS = 10_000
_FORM_MAX = MAX_SQL_CHARS * 4 + 4_096
_NOT_ENABLED = "Data sources are not enabled on this gateway (they need the key-encryption key)."
_REASONS = {
    "missing_attribute": "this source's row filters need a user attribute your account does "
    "not have; ask an administrator",
    "not_select": "only a single SELECT may run",
    "host_not_allowed": "the source's host is not on the gateway's allowed hosts",
}


def router(kit: ConsoleKit) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    page = page_named("sources")
    engine = kit.runtime.engine
    attributes = UserAttributes(engine)
    clock = kit.runtime.clock

    async def record(caller: Caller, route: str, outcome: str, **fields: Any) -> None:
        p = caller.principal
        await record_decision(
            kit.runtime.audit.append,
            ts=clock(),
            tenant_id=p.tenant_id,
            route=route,
            outcome=outcome,
            unavailable="The change could not be recorded.",
            user_id=p.user_id,
            key_id=p.key_id,
            session_id=p.session_id,
            **fields,
        )

    async def acting(request: Request) -> tuple[Caller, DataSources, dict[str, str]] | Response:
        acted = await kit.act_on_form(request, page.permission, page.path, _FORM_MAX)
        if isinstance(acted, Response):
            return acted
        store = kit.runtime.data_sources
        if store is None:
            return kit.fragment(_NOT_ENABLED)
        caller, form = acted
        return caller, store, form

    @api.get(page.path)
    async def show(request: Request) -> Response:
        caller = await kit.open_page(request, page)
        if isinstance(caller, Response):
            return caller
        store, p = kit.runtime.data_sources, caller.principal
        if store is None:  # open_page answered 404 already (the page's capability)
            return kit.denied(caller, _NOT_ENABLED)
        views = await anyio.to_thread.run_sync(
            source_views, store, engine, p.tenant_id, p.user_id, caller.role
        )
        return kit.render(
            "sources.html",
            caller,
            page,
            sources=views,
            roles=sorted(ROLES),
            max_sql=MAX_SQL_CHARS,
        )

    async def share_change(request: Request, source_id: str, add: bool) -> Response:
        acted = await acting(request)
        if isinstance(acted, Response):
            return acted
        caller, store, form = acted
        p = caller.principal
        kind, grantee = form.get("kind", ""), form.get("grantee", "").strip()[:320]
        if kind not in ("user", "role") or not grantee:
            return kit.fragment(
                "Choose a user (by email) or a role to share with.", code="invalid_request"
            )
        if kind == "user" and "@" in grantee:
            users = await anyio.to_thread.run_sync(Directory(engine).users, p.tenant_id)
            found = next((u.id for u in users if u.email.lower() == grantee.lower()), None)
            if found is None:
                return kit.fragment(
                    "No user with that email in this tenant.", code="invalid_request"
                )
            grantee = found
        grantee = grantee[:64]
        route = f"POST {page.path}/{{source_id}}/shares" + ("" if add else "/remove")
        extra = {"source": source_id, "grantee_kind": kind, "grantee": grantee}
        change = store.share if add else store.unshare
        try:
            changed = await anyio.to_thread.run_sync(
                change, p.tenant_id, source_id, p.user_id, kind, grantee
            )
        except SourceError as exc:
            code = "permission_denied" if isinstance(exc, SourceForbidden) else "invalid_request"
            code = "not_found" if isinstance(exc, SourceNotFound) else code
            await record(caller, route, "source_change_refused", error_code=code, extra=extra)
            if isinstance(exc, SourceNotFound):
                return kit.fragment("No such data source.")
            if isinstance(exc, SourceForbidden):
                return kit.fragment("Only the source's owner may change its shares.")
            return kit.fragment(f"{str(exc)[:200]}.", code="invalid_request")
        if not add and not changed:  # as DELETE /v1/sources/{id}/shares/...: no silent no-op
            await record(
                caller, route, "source_change_refused", error_code="not_found", extra=extra
            )
            return kit.fragment("The source is not shared with that user or role.")
        await record(caller, route, "source_shared" if add else "source_unshared", extra=extra)
        views = await anyio.to_thread.run_sync(
            source_views, store, engine, p.tenant_id, p.user_id, caller.role
        )
        view = next((v for v in views if v.id == source_id), None)
        message = "Shared." if add else "Share withdrawn."
        context = {"s": view, "message": message, "oob": True}
        return kit.renderer.page("sources_shares.html", context)

    @api.post(page.path + "/{source_id}/shares")
    async def share(request: Request, source_id: str) -> Response:
        return await share_change(request, source_id[:64], add=True)

    @api.post(page.path + "/{source_id}/shares/remove")
    async def unshare(request: Request, source_id: str) -> Response:
        return await share_change(request, source_id[:64], add=False)

    @api.post(page.path + "/try")
    async def try_query(request: Request) -> Response:
        acted = await acting(request)
        if isinstance(acted, Response):
            return acted
        caller, store, form = acted
        p = caller.principal
        sql, source_id = form.get("sql", ""), form.get("source_id", "")[:64]
        if not sql.strip():
            return kit.fragment("Enter a SELECT statement to try.", code="invalid_request")
        if len(sql) > MAX_SQL_CHARS:
            return kit.fragment(
                f"The query is longer than {MAX_SQL_CHARS} characters.", code="invalid_request"
            )
        try:
            source = await anyio.to_thread.run_sync(
                store.get_for, p.tenant_id, source_id, p.user_id, caller.role
            )
        except SourceNotFound:
            return kit.fragment("No such data source.")
        except SourceError as exc:
            return kit.fragment(f"{str(exc)[:200]}.", code="invalid_request")
        try:
            stored = await anyio.to_thread.run_sync(attributes.get, p.tenant_id, p.user_id)
        except UnknownUser:
            stored = {}
        params = caller_params(stored, p.user_email, caller.role)
        outcome: QueryOutcome = await anyio.to_thread.run_sync(
            lambda: run_guarded(
                kit.runtime.executor,
                source,
                sql,
                user_id=p.user_id,
                role=caller.role,
                params=params,
                timeout_ms=TIMEOUT_MS,
            )
        )
        await record(
            caller,
            f"POST {page.path}/try",
            outcome.outcome,
            data_sources=[outcome.access()],
        )
        result = outcome.result
        context = {
            "o": outcome,
            "source": source.name,
            "explain": _REASONS.get(outcome.reason, ""),
            "columns": list(result.columns) if result else [],
            "rows": [list(row) for row in result.rows[:MAX_ROWS_SHOWN]] if result else [],
            "row_count": result.row_count if result else 0,
            "truncated": bool(result and result.truncated),
            "cut": bool(result and len(result.rows) > MAX_ROWS_SHOWN),
        }
        response = kit.renderer.page("sources_result.html", context)
        response.headers["cache-control"] = "no-store"  # rows of the caller's data
        return response

    return api
