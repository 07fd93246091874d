"""``/v1/actions`` and ``/v1/approvals``: people confirm, approve and reject what the
model proposed (issue 8).

* ``GET /v1/actions``, ``GET /v1/actions/{id}``: the caller's own actions
  (``actions.use``), with the summary and the exact arguments that will run.
* ``POST /v1/actions/{id}/confirm`` (body ``{"action_hash": ...}``): the requester
  confirms their tier-2 action; it runs now and the answer carries its result.
* ``POST /v1/actions/{id}/reject``: the requester withdraws a pending action.
* ``GET /v1/approvals``: the tenant's pending tier-3 requests (``actions.approve``).
* ``GET /v1/approvals/history``: the tenant's decided tier-3 requests.
* ``POST /v1/approvals/{id}/approve`` (body ``{"action_hash": ...}``): a different user
  with ``actions.approve`` approves; it runs now. Approving one's own request is
  refused (403); ``actions.approve`` is a step-up permission for browser sessions.
* ``POST /v1/approvals/{id}/reject``: an approver rejects.

A decision names the ``action_hash`` its maker was shown; another hash, an expired or
an already-decided action answer 409 with a code saying which (``action_changed``,
``action_expired``, ``action_decided``). Someone else's action is "not found".
Every decision, refusal and result is in the audit chain before the answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio.to_thread
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from bastion.actions.flow import ActionFlow
from bastion.actions.policy import ActionPolicy
from bastion.actions.registry import Tier
from bastion.actions.store import ActionIntegrityError, ActionRecord, ActionStore, SealedCall
from bastion.gateway.callers import Caller, Callers
from bastion.gateway.openapi import error_responses

__all__ = ["ActionOut", "action_router"]

_ERRORS = error_responses(
    {
        "400": "Invalid body",
        "401": "Not authenticated",
        "403": "The role lacks actions.use or actions.approve, a recent sign-in is "
        "needed (step-up), or the approver is the requester",
        "404": "No such action, or not one the caller may see",
        "409": "The action expired (action_expired), was already decided "
        "(action_decided), is not the one shown (action_changed) or needs an "
        "approval, not a confirmation (approval_required)",
        "503": "The decision could not be recorded in the audit log",
    }
)
_DECIDED = ("running", "succeeded", "failed", "rejected", "expired")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    action_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="The hash you were shown: the decision is bound to exactly that call.",
    )


class ActionResultOut(BaseModel):
    code: str
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ActionOut(BaseModel):
    id: str
    object: str = "bastion.action"
    tool: str
    tier: int = Field(description="1 automatic, 2 the user confirms, 3 an approver approves")
    status: str = Field(description="pending | running | succeeded | failed | rejected | expired")
    summary: str = Field(description="Exactly what will happen (or happened).")
    arguments: dict[str, Any]
    action_hash: str
    requester_id: str
    conversation_id: str
    created_at: datetime
    expires_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    finished_at: datetime | None = None
    result: ActionResultOut | None = None


class ActionList(BaseModel):
    object: str = "list"
    data: list[ActionOut]


def action_router(
    flow: ActionFlow,
    callers: Callers,
    policy_for: Callable[[str], ActionPolicy],
    clock: Callable[[], datetime],
) -> APIRouter:
    router = APIRouter(tags=["actions"], responses=_ERRORS)
    store = flow.store

    async def caller(request: Request, permission: str) -> Caller:
        return await callers.identify_for(request, permission)

    async def shown(records: list[ActionRecord]) -> list[ActionOut]:
        now = clock()
        return [await anyio.to_thread.run_sync(_view, store, r, now) for r in records]

    async def one_shown(record: ActionRecord) -> ActionOut:
        return (await shown([record]))[0]

    @router.get("/v1/actions", response_model=ActionList)
    async def mine(request: Request, status: str | None = None) -> ActionList:
        """Your own actions, newest first (status: pending or a decided status)."""
        c = await caller(request, "actions.use")
        p = c.principal
        statuses = (status,) if status else ()
        records = await anyio.to_thread.run_sync(
            lambda: store.listing(p.tenant_id, requester_id=p.user_id, statuses=statuses)
        )
        return ActionList(data=await shown(records))

    @router.get("/v1/actions/{action_id}", response_model=ActionOut)
    async def one(request: Request, action_id: str) -> ActionOut:
        """One of your actions: its summary, exact arguments, hash and result."""
        c = await caller(request, "actions.use")
        record = await flow.own(c.principal, action_id)
        return await one_shown(record)

    @router.post("/v1/actions/{action_id}/confirm", response_model=ActionOut)
    async def confirm(request: Request, action_id: str, body: Decision) -> ActionOut:
        """Confirm your own pending action (tier 2): it runs now."""
        c = await caller(request, "actions.use")
        policy = policy_for(c.principal.policy)
        record = await flow.confirm(c.principal, policy, action_id, body.action_hash)
        return await one_shown(record)

    @router.post("/v1/actions/{action_id}/reject", response_model=ActionOut)
    async def withdraw(request: Request, action_id: str) -> ActionOut:
        """Withdraw your own pending action."""
        c = await caller(request, "actions.use")
        record = await flow.reject(c.principal, action_id, as_approver=False)
        return await one_shown(record)

    @router.get("/v1/approvals", response_model=ActionList)
    async def pending(request: Request) -> ActionList:
        """The tenant's approval requests still waiting, newest first."""
        c = await caller(request, "actions.approve")
        tenant = c.principal.tenant_id
        records = await anyio.to_thread.run_sync(
            lambda: store.listing(tenant, statuses=("pending",), min_tier=Tier.APPROVE)
        )
        now = clock()
        waiting = [r for r in records if r.shown_status(now) == "pending"]
        return ActionList(data=await shown(waiting))

    @router.get("/v1/approvals/history", response_model=ActionList)
    async def history(request: Request) -> ActionList:
        """The tenant's decided approval requests, newest first."""
        c = await caller(request, "actions.approve")
        tenant = c.principal.tenant_id
        records = await anyio.to_thread.run_sync(
            lambda: store.listing(tenant, min_tier=Tier.APPROVE)
        )
        now = clock()
        decided = [r for r in records if r.shown_status(now) in _DECIDED]
        return ActionList(data=await shown(decided))

    @router.get("/v1/approvals/{action_id}", response_model=ActionOut)
    async def request_(request: Request, action_id: str) -> ActionOut:
        """One approval request: what exactly will run, and its hash."""
        c = await caller(request, "actions.approve")
        record = await flow.approval(c.principal, action_id)
        return await one_shown(record)

    @router.post("/v1/approvals/{action_id}/approve", response_model=ActionOut)
    async def approve(request: Request, action_id: str, body: Decision) -> ActionOut:
        """Approve another user's request (tier 3): it runs now, once."""
        c = await caller(request, "actions.approve")
        policy = policy_for(c.principal.policy)
        record = await flow.approve(c.principal, policy, action_id, body.action_hash)
        return await one_shown(record)

    @router.post("/v1/approvals/{action_id}/reject", response_model=ActionOut)
    async def reject(request: Request, action_id: str) -> ActionOut:
        """Reject an approval request."""
        c = await caller(request, "actions.approve")
        record = await flow.reject(c.principal, action_id, as_approver=True)
        return await one_shown(record)

    return router


def _view(store: ActionStore, record: ActionRecord, now: datetime) -> ActionOut:
    """The record as people see it. A stored call that does not open (a row changed
    in the database) shows no arguments and says so; it can never run."""
    try:
        call = store.open_call(record)
    except ActionIntegrityError:
        call = SealedCall("{}", "(the stored action does not open: it was changed)")
    try:
        detail = store.open_detail(record)
    except ActionIntegrityError:
        detail = {}
    result = None
    if record.result_code is not None:
        result = ActionResultOut(
            code=record.result_code, message=record.result_message or "", detail=detail
        )
    return ActionOut(
        id=record.id,
        tool=record.tool,
        tier=int(record.tier),
        status=record.shown_status(now),
        summary=call.summary,
        arguments=json.loads(call.arguments),
        action_hash=record.action_hash,
        requester_id=record.requester_id,
        conversation_id=record.conversation_id,
        created_at=record.created_at,
        expires_at=record.expires_at,
        decided_by=record.decided_by,
        decided_at=record.decided_at,
        finished_at=record.finished_at,
        result=result,
    )
