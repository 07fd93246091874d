"""``/console/approvals``: the tenant's agent actions waiting for an approver, each with
exactly what will run, and the recent decisions (``actions.approve``).

Approving and rejecting go through :class:`~bastion.actions.flow.ActionFlow`, as
``POST /v1/approvals/{id}/approve`` and ``/reject`` do: the decision names the
``action_hash`` the page showed (any other hash is refused ``action_changed``), the
requester may not approve their own request, and every decision, refusal and result is
in the audit chain before the answer. ``actions.approve`` is a step-up permission: as
with ``GET /v1/approvals``, the queue (the sealed arguments, opened) is shown only to a
session that signed in recently, and so is each decision.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from bastion.actions.flow import ActionFlow
from bastion.actions.registry import Tier
from bastion.actions.store import ActionIntegrityError, ActionRecord, ActionStore
from bastion.console.kit import ConsoleKit
from bastion.console.pages import page_named
from bastion.console.people import emails_by_id
from bastion.errors import BastionError
from bastion.gateway.callers import Caller

__all__ = ["router"]

_HASH = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[0-9a-f-]{36}")
_DECIDED = ("running", "succeeded", "failed", "rejected", "expired")
_EMPTY: dict[str, object] = {"pending": [], "history": []}


@dataclass(frozen=True, slots=True)
class ShownAction:
    """One action as an approver sees it. ``arguments``: the exact call, opened and
    indented (empty when the stored call does not open: it was changed, and never
    runs)."""

    id: str
    tool: str
    tier: int
    status: str
    summary: str
    arguments: str
    action_hash: str
    requester: str
    own: bool
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    result_code: str | None
    result_message: str | None


def _shown(
    store: ActionStore, record: ActionRecord, now: datetime, names: dict[str, str], viewer: str
) -> ShownAction:
    try:
        call = store.open_call(record)
        arguments = json.dumps(json.loads(call.arguments), indent=2, ensure_ascii=False)
        summary = call.summary
    except (ActionIntegrityError, ValueError):
        arguments, summary = "", "(the stored action does not open: it was changed)"
    decider = record.decided_by
    return ShownAction(
        id=record.id,
        tool=record.tool,
        tier=int(record.tier),
        status=record.shown_status(now),
        summary=summary,
        arguments=arguments,
        action_hash=record.action_hash,
        requester=names.get(record.requester_id, record.requester_id),
        own=record.requester_id == viewer,
        created_at=record.created_at,
        expires_at=record.expires_at,
        decided_by=names.get(decider, decider) if decider else None,
        decided_at=record.decided_at,
        result_code=record.result_code,
        result_message=record.result_message,
    )


def _queue(
    kit: ConsoleKit, store: ActionStore, tenant_id: str, viewer: str
) -> tuple[list[ShownAction], list[ShownAction]]:
    """The waiting requests and the decided ones, newest first (as the API lists them)."""
    now = kit.runtime.clock()
    names = emails_by_id(kit.runtime.engine, tenant_id)
    pending = store.listing(tenant_id, statuses=("pending",), min_tier=Tier.APPROVE)
    recent = store.listing(tenant_id, min_tier=Tier.APPROVE)
    waiting = [_shown(store, r, now, names, viewer) for r in pending]
    decided = [_shown(store, r, now, names, viewer) for r in recent]
    return (
        [a for a in waiting if a.status == "pending"],
        [a for a in decided if a.status in _DECIDED],
    )


def router(kit: ConsoleKit) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    page = page_named("approvals")

    @api.get(page.path)
    async def show(request: Request) -> Response:
        opened = await kit.open_page_stale(request, page)
        if isinstance(opened, Response):
            return opened
        caller, url = opened
        if url:  # the role may approve, but the sign-in is too old to open the queue
            return kit.render("approvals.html", caller, page, step_up=url, **_EMPTY)
        flow = kit.runtime.actions
        if flow is None:  # open_page_stale answered 404 already (the page's capability)
            return kit.denied(caller, "Agent actions are not available on this gateway.")
        p = caller.principal
        pending, history = await anyio.to_thread.run_sync(
            _queue, kit, flow.store, p.tenant_id, p.user_id
        )
        return kit.render(
            "approvals.html",
            caller,
            page,
            step_up="",
            pending=pending,
            history=history,
        )

    async def decider(request: Request, action_id: str) -> tuple[Caller, ActionFlow] | Response:
        """The approver and the flow, or the fragment to show instead."""
        caller = await kit.act(request, "actions.approve", page.path)
        if isinstance(caller, Response):
            return caller
        if kit.runtime.actions is None:
            return kit.fragment("Agent actions are not available on this gateway.")
        if not _ID.fullmatch(action_id):
            return kit.fragment("No such action.", code="not_found")
        return caller, kit.runtime.actions

    async def decided(decision: Awaitable[ActionRecord]) -> Response:
        """The flow's answer as a fragment: the outcome, or the API's refusal and its
        code (403 self-approval, 404, 409 changed, expired or decided)."""
        try:
            record = await decision
        except BastionError as exc:
            return kit.fragment(exc.message, link=(page.path, "Reload"), code=exc.code)
        context = {
            "status": record.status,
            "code": record.result_code,
            "message": record.result_message,
        }
        return kit.renderer.page("approvals_decided.html", context)

    @api.post(page.path + "/{action_id}/approve")
    async def approve(request: Request, action_id: str) -> Response:
        found = await decider(request, action_id)
        if isinstance(found, Response):
            return found
        caller, flow = found
        digest = ((await kit.form(request, 4096)) or {}).get("action_hash", "")
        if not _HASH.fullmatch(digest):
            return kit.fragment(
                "The form did not carry the action's hash; reload the page and decide again.",
                link=(page.path, "Reload"),
                code="invalid_request",
            )
        p = caller.principal
        policy = kit.runtime.policies.get(p.policy).actions
        return await decided(flow.approve(p, policy, action_id, digest))

    @api.post(page.path + "/{action_id}/reject")
    async def reject(request: Request, action_id: str) -> Response:
        found = await decider(request, action_id)
        if isinstance(found, Response):
            return found
        caller, flow = found
        return await decided(flow.reject(caller.principal, action_id, as_approver=True))

    return api
