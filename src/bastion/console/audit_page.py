"""``/console/audit``: search the tenant's audit chain, open one record, check the
chain, download it.

- ``GET /console/audit`` (``audit.read``): the search (a GET form; htmx swaps the
  results in place), newest first, 50 a page, "next" by a cursor on ``seq``.
- ``GET /console/audit/verify`` (``audit.verify``): the chain's verification status,
  loaded by the search page.
- ``GET /console/audit/export`` (``audit.export``, step-up): JSON Lines download.
- ``GET /console/audit/{seq}`` (``audit.read``): one record's metadata.
- ``POST /console/audit/{seq}/content`` (htmx, CSRF; ``audit.export``, step-up): the
  record's prompt and response, unsealed.

Opening content and exporting are decisions recorded in the tenant's own chain
(route ``console``) before anything is shown: ``audit_content_viewed`` /
``audit_content_denied`` (with the refusal's error code), ``audit_exported``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from bastion.audit import SealedContentError, verify_chain
from bastion.audit.decisions import record_decision
from bastion.authz import allowed
from bastion.console.audit_export import jsonl_chunks
from bastion.console.audit_search import (
    BadSearch,
    Found,
    load_content,
    load_record,
    parse_filters,
    parse_seq,
    search,
)
from bastion.console.kit import LOGIN, ConsoleKit
from bastion.console.pages import page_named
from bastion.console.render import CSP
from bastion.errors import AuditUnavailable, PermissionDenied
from bastion.gateway.callers import Caller
from bastion.sessions.errors import StepUpRequired

__all__ = ["router"]

# Common outcomes, offered as suggestions in the search form.
OUTCOMES = (
    "allowed",
    "redacted",
    "blocked_input",
    "blocked_output",
    "rejected",
    "rate_limited",
    "upstream_error",
    "error",
    "client_disconnected",
    "admin_change",
    "admin_denied",
    "audit_content_viewed",
    "audit_content_denied",
    "audit_exported",
)


async def _record(
    kit: ConsoleKit,
    caller: Caller,
    outcome: str,
    extra: dict[str, Any],
    error_code: str | None = None,
) -> None:
    """One decision in the caller's tenant chain; AuditUnavailable if not written."""
    p = caller.principal
    await record_decision(
        kit.runtime.audit.append,
        ts=kit.runtime.clock(),
        tenant_id=p.tenant_id,
        route="console",
        outcome=outcome,
        unavailable="The audit log could not record this; nothing was shown.",
        user_id=p.user_id,
        key_id=p.key_id,
        session_id=p.session_id,
        error_code=error_code,
        extra=extra,
    )


def router(kit: ConsoleKit) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    page = page_named("audit")
    verify_page = replace(page, permission="audit.verify")
    runtime = kit.runtime

    @api.get(page.path)
    async def audit_page(request: Request) -> Response:
        caller = await kit.open_page(request, page)
        if isinstance(caller, Response):
            return caller
        htmx = request.headers.get("hx-request") == "true"
        context: dict[str, Any] = {
            "outcomes": OUTCOMES,
            "can_export": allowed(caller.role, "audit.export"),
            "error": "",
        }
        try:
            filters = parse_filters(request.query_params)
        except BadSearch as exc:
            context |= {"form": _raw_form(request), "found": Found(), "error": str(exc)}
            frame = kit.frame(caller, page)
            # htmx swaps only 2xx answers: it gets the message with 200.
            status = 200 if htmx else 400
            return kit.renderer.page("audit.html", {**frame, **context}, status=status)
        found = await anyio.to_thread.run_sync(
            search, runtime.engine, caller.principal.tenant_id, filters
        )
        context |= {"form": filters.form, "found": found, "filters": filters}
        return kit.render("audit.html", caller, page, **context)

    @api.get(page.path + "/verify")
    async def audit_verify(request: Request) -> Response:
        caller = await kit.open_page(request, verify_page)
        if isinstance(caller, Response):
            return caller
        tenant_id = caller.principal.tenant_id
        try:
            report = await anyio.to_thread.run_sync(
                lambda: verify_chain(runtime.engine, tenant_id, sealer=runtime.sealer)
            )
            chain = report.tenants.get(tenant_id)
            context: dict[str, Any] = {"chain": chain, "unverifiable": False}
        except SealedContentError:
            context = {"chain": None, "unverifiable": True}
        if request.headers.get("hx-request") == "true":
            return kit.renderer.page("audit_chain.html", context)
        return kit.render("audit_verify.html", caller, page, **context)

    @api.get(page.path + "/export")
    async def audit_export(request: Request) -> Response:
        caller = await kit.session_caller(request)
        if caller is None:
            return RedirectResponse(LOGIN, status_code=303)
        try:
            kit.callers.require(caller, "audit.export")
        except StepUpRequired:
            return RedirectResponse(kit.step_up_url(caller, page.path), status_code=303)
        except PermissionDenied:
            return kit.denied(caller, "Your role may not export the audit log.")
        tenant_id = caller.principal.tenant_id
        await _record(kit, caller, "audit_exported", {"format": "jsonl"})
        stamp = runtime.clock().strftime("%Y%m%dT%H%M%SZ")
        headers = {
            "content-disposition": f'attachment; filename="audit-{stamp}.jsonl"',
            "content-security-policy": CSP,
            "cache-control": "no-store",
        }
        return StreamingResponse(
            jsonl_chunks(runtime.engine, tenant_id, runtime.sealer),
            media_type="application/x-ndjson",
            headers=headers,
        )

    @api.get(page.path + "/{seq}")
    async def audit_record(request: Request, seq: str) -> Response:
        caller = await kit.open_page(request, page)
        if isinstance(caller, Response):
            return caller
        number = parse_seq(seq)
        record = None
        if number is not None:
            record = await anyio.to_thread.run_sync(
                load_record, runtime.engine, caller.principal.tenant_id, number
            )
        if record is None:
            context = {**kit.frame(caller, page), "message": "There is no such record."}
            return kit.renderer.page("denied.html", context, status=404)
        return kit.render(
            "audit_record.html",
            caller,
            page,
            record=record,
            can_read=allowed(caller.role, "audit.export"),
        )

    @api.post(page.path + "/{seq}/content")
    async def audit_content(request: Request, seq: str) -> Response:
        number = parse_seq(seq)
        back = f"{page.path}/{number}" if number is not None else page.path
        caller = await kit.act(request, "audit.read", back)
        if isinstance(caller, Response):
            return caller
        if number is None:
            return kit.fragment("There is no such record.")
        extra = {"seq": number}
        try:
            try:
                kit.callers.require(caller, "audit.export")
            except StepUpRequired as exc:
                await _record(kit, caller, "audit_content_denied", extra, exc.code)
                url = kit.step_up_url(caller, back)
                return kit.fragment(
                    "Reading content needs a recent sign-in.",
                    link=(url, "Sign in again"),
                    code="step_up",
                )
            except PermissionDenied as exc:
                await _record(kit, caller, "audit_content_denied", extra, exc.code)
                return kit.fragment("Content sealed: your role may not read it.", code=exc.code)
            tenant_id = caller.principal.tenant_id
            content = await anyio.to_thread.run_sync(
                load_content, runtime.engine, tenant_id, number, runtime.sealer
            )
            if content is None:
                return kit.fragment("There is no such record.")
            # No record of the viewing, no content.
            await _record(kit, caller, "audit_content_viewed", extra)
        except AuditUnavailable as exc:
            return kit.fragment(exc.message)
        return kit.renderer.page("audit_content.html", {"content": content})

    return api


def _raw_form(request: Request) -> dict[str, str]:
    """The form as typed (cut short), to show again beside the error."""
    names = ("user", "from", "to", "outcome", "reason", "source", "route")
    return {name: request.query_params.get(name, "")[:320] for name in names}
