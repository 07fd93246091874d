"""The life of a proposed action: checked, then run, confirmed or approved, once.

The model proposes; people decide; Bastion's code enforces:

* :meth:`ActionFlow.propose` takes a tool call the model emitted. The call is checked
  by :func:`~bastion.actions.proposal.validate_call` against the tenant's enabled
  actions and the caller's role, then by the action's own rules (``check``) and rate
  limit. A tier-1 call runs at once as the caller; a tier-2 call becomes a pending
  action the same user confirms; a tier-3 call becomes an approval request a
  different user holding ``actions.approve`` decides (the approvers are notified by
  webhook). The tier comes from the registry and the tenant, never from the model.
* :meth:`confirm`, :meth:`approve` and :meth:`reject` are called only from the API
  routes with an authenticated person; no tool the model can call reaches them. The
  person names the ``action_hash`` they were shown: the hash of the tool, the exact
  canonical arguments, the requester and the conversation. A decision on any other
  hash changes nothing; the stored call is re-hashed before it runs, so a changed row
  is refused; the claim is one conditional update, so a decision is used once and of
  two racing approvers exactly one wins.
* Before running, the call is checked again as the requester is now: a disabled user,
  a role that lost the permission, a tier the tenant raised or an action it disabled
  since the proposal all refuse it.

Every step is in the audit chain: proposals in the chat's own record (by the caller),
and each decision, refusal and result in its own record, written before the answer
(and the decision's record before the action runs).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio.to_thread

from bastion.actions.catalog import Action, ActionResult, ActionServices
from bastion.actions.notify import notify_approvers
from bastion.actions.policy import ActionPolicy
from bastion.actions.proposal import Refusal, ValidatedCall, action_hash, validate_call
from bastion.actions.registry import Tier
from bastion.actions.store import (
    ActionIntegrityError,
    ActionNotFound,
    ActionRecord,
    ActionStore,
    SealedCall,
)
from bastion.audit.decisions import record_decision
from bastion.audit.record import AuditEvent
from bastion.errors import Conflict, NotFound, PermissionDenied
from bastion.identity import Principal
from bastion.identity.caller_ref import CallerRef
from bastion.identity.directory import Directory
from bastion.ratelimit import RateLimiter

__all__ = ["ActionFlow", "Proposal"]

log = logging.getLogger("bastion.actions")

_PENDING = {Tier.CONFIRM: "pending_confirmation", Tier.APPROVE: "pending_approval"}


@dataclass(slots=True)
class Proposal:
    """What one model-proposed call led to. ``status``: refused, done, failed,
    pending_confirmation or pending_approval."""

    tool: str
    status: str
    code: str
    message: str
    record: ActionRecord | None = None
    summary: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    notified: str | None = None

    def __repr__(self) -> str:
        return f"Proposal(tool={self.tool!r}, status={self.status!r})"

    def for_model(self) -> dict[str, Any]:
        """What the model is told: the outcome, never a way to decide it."""
        body: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.record is not None:
            body["action_id"] = self.record.id
        if self.detail:
            body["detail"] = dict(self.detail)
        return body

    def for_audit(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"tool": self.tool[:64], "status": self.status, "code": self.code}
        if self.record is not None:
            entry.update(
                action_id=self.record.id,
                tier=int(self.record.tier),
                action_hash=self.record.action_hash,
            )
        if self.notified is not None:
            entry["notified"] = self.notified
        return entry


class ActionFlow:
    def __init__(
        self,
        store: ActionStore,
        actions: Mapping[str, Action],
        services: ActionServices,
        limiter: RateLimiter,
        directory: Directory,
        clock: Callable[[], datetime],
        append: Callable[[AuditEvent], Awaitable[object]],
    ) -> None:
        self._store = store
        self._actions = actions
        self._services = services
        self._limiter = limiter
        self._directory = directory
        self._clock = clock
        self._append = append

    def __repr__(self) -> str:
        return f"ActionFlow(actions={sorted(self._actions)!r})"

    @property
    def store(self) -> ActionStore:
        return self._store

    def tools_for(self, policy: ActionPolicy, role: str) -> list[dict[str, Any]]:
        """The OpenAI tool definitions of the tenant's actions this role may use."""
        return policy.registry.openai_tools(role)

    def offers(self, policy: ActionPolicy, name: str) -> bool:
        return policy.registry.get(name) is not None

    # -- the model proposes -------------------------------------------------------
    async def propose(
        self,
        caller: CallerRef,
        policy: ActionPolicy,
        name: str,
        raw_arguments: str,
        conversation_id: str,
    ) -> Proposal:
        checked = validate_call(
            policy.registry, name, raw_arguments, caller.role, policy.tier_table()
        )
        if isinstance(checked, Refusal):
            return Proposal(name, "refused", checked.code, checked.message)
        spec = checked.spec
        action = self._actions[spec.name]
        config = policy.configs[spec.name]
        reason = action.check(checked.arguments, config)
        if reason is not None:
            return Proposal(spec.name, "refused", "not_allowed", f"{spec.name}: {reason}")
        if spec.rate_limit is not None and not await self._limiter.hit(
            spec.rate_limit, "action", caller.tenant_id, caller.user_id, spec.name
        ):
            message = f"{spec.name}: rate limit reached ({spec.rate_limit}); try later"
            return Proposal(spec.name, "refused", "rate_limited", message)
        summary = action.summary(checked.arguments, config)
        digest = action_hash(spec.name, checked.canonical, caller.user_id, conversation_id)
        now = self._clock()
        pending = checked.tier is not Tier.AUTO
        record = await anyio.to_thread.run_sync(
            lambda: self._store.create(
                tenant_id=caller.tenant_id,
                requester_id=caller.user_id,
                conversation_id=conversation_id,
                tool=spec.name,
                tier=checked.tier,
                action_hash=digest,
                call=SealedCall(checked.canonical, summary),
                status="pending" if pending else "running",
                expires_at=now + policy.ttl(checked.tier) if pending else now,
            )
        )
        if not pending:
            result = await self._run(action, caller, checked, config)
            await self._finish(record, result)
            status = "done" if result.ok else "failed"
            return Proposal(
                spec.name, status, result.code, result.message, record, summary, result.detail
            )
        proposal = Proposal(
            spec.name,
            _PENDING[checked.tier],
            "pending",
            _pending_message(checked.tier),
            record,
            summary,
        )
        if checked.tier is Tier.APPROVE and policy.notify_url:
            proposal.notified = await self._notify(policy.notify_url, record, caller)
        return proposal

    # -- people look ----------------------------------------------------------------
    async def own(self, principal: Principal, action_id: str) -> ActionRecord:
        """One of the caller's own actions; anyone else's is "not found"."""
        record = await self._get(principal.tenant_id, action_id)
        if record.requester_id != principal.user_id:
            raise NotFound("No such action.")
        return record

    async def approval(self, principal: Principal, action_id: str) -> ActionRecord:
        """A tier-3 request of the caller's tenant (for approvers)."""
        record = await self._get(principal.tenant_id, action_id)
        if record.tier is not Tier.APPROVE:
            raise NotFound("No such approval request.")
        return record

    # -- people decide ------------------------------------------------------------
    async def confirm(
        self, principal: Principal, policy: ActionPolicy, action_id: str, digest: str
    ) -> ActionRecord:
        """The requester confirms their own tier-2 action; it runs now."""
        record = await self.own(principal, action_id)
        route = "POST /v1/actions/{action_id}/confirm"
        if record.tier is not Tier.CONFIRM:
            await self._audit(principal, route, "action_refused", record, "approval_required")
            raise Conflict(
                "This action needs an approver's approval, not a confirmation.",
                code="approval_required",
            )
        return await self._decide(principal, policy, record, digest, route, "action_confirmed")

    async def approve(
        self, principal: Principal, policy: ActionPolicy, action_id: str, digest: str
    ) -> ActionRecord:
        """A different user with ``actions.approve`` approves a tier-3 action; it runs."""
        record = await self.approval(principal, action_id)
        route = "POST /v1/approvals/{action_id}/approve"
        if record.requester_id == principal.user_id:
            await self._audit(principal, route, "action_refused", record, "self_approval")
            raise PermissionDenied("You may not approve your own request.")
        return await self._decide(principal, policy, record, digest, route, "action_approved")

    async def reject(
        self, principal: Principal, action_id: str, *, as_approver: bool
    ) -> ActionRecord:
        """The requester withdraws their pending action, or an approver rejects a
        tier-3 request (not their own: they withdraw it as the requester)."""
        if as_approver:
            route = "POST /v1/approvals/{action_id}/reject"
            record = await self.approval(principal, action_id)
        else:
            route = "POST /v1/actions/{action_id}/reject"
            record = await self.own(principal, action_id)
        now = self._clock()
        await self._expire_if_due(principal, route, record, now)
        closed = await anyio.to_thread.run_sync(
            lambda: self._store.close(
                record.tenant_id, record.id, "rejected", decided_by=principal.user_id, now=now
            )
        )
        if not closed:
            await self._refuse_stale(principal, route, record)
        await self._audit(principal, route, "action_rejected", record)
        return await self._get(record.tenant_id, record.id)

    async def _decide(
        self,
        principal: Principal,
        policy: ActionPolicy,
        record: ActionRecord,
        digest: str,
        route: str,
        outcome: str,
    ) -> ActionRecord:
        now = self._clock()
        await self._expire_if_due(principal, route, record, now)
        if record.status != "pending":
            await self._refuse_stale(principal, route, record)
        if digest != record.action_hash:
            await self._audit(principal, route, "action_refused", record, "action_changed")
            raise Conflict(
                "The action is not the one you were shown (its hash differs); read it "
                "again before deciding.",
                code="action_changed",
            )
        claimed = await anyio.to_thread.run_sync(
            lambda: self._store.claim(
                record.tenant_id,
                record.id,
                action_hash=digest,
                decided_by=principal.user_id,
                tier=record.tier,
                now=now,
                other_than_requester=record.tier is Tier.APPROVE,
            )
        )
        if not claimed:  # another decision won the race, or it just expired
            await self._refuse_stale(principal, route, record)
        try:
            await self._audit(principal, route, outcome, record)
        except Exception:
            await self._finish(record, ActionResult(False, "audit_unavailable", "not run"))
            raise
        result = await self._execute(policy, record)
        await self._finish(record, result)
        await self._audit(
            principal,
            route,
            "action_succeeded" if result.ok else "action_failed",
            record,
            None if result.ok else result.code,
        )
        return await self._get(record.tenant_id, record.id)

    async def _execute(self, policy: ActionPolicy, record: ActionRecord) -> ActionResult:
        """Run a claimed action as its requester is now, after checking it again."""
        try:
            call = await anyio.to_thread.run_sync(self._store.open_call, record)
        except ActionIntegrityError:
            return ActionResult(False, "action_changed", "the stored action does not open")
        again = action_hash(
            record.tool, call.arguments, record.requester_id, record.conversation_id
        )
        if again != record.action_hash:
            return ActionResult(False, "action_changed", "the stored action was changed")
        try:
            user = await anyio.to_thread.run_sync(
                self._directory.user, record.tenant_id, record.requester_id
            )
        except Exception:
            return ActionResult(False, "requester_gone", "the requester no longer exists")
        if user.disabled:
            return ActionResult(False, "requester_disabled", "the requester is disabled")
        checked = validate_call(
            policy.registry, record.tool, call.arguments, user.role, policy.tier_table()
        )
        if isinstance(checked, Refusal):
            return ActionResult(False, checked.code, "the action may no longer run as asked")
        if checked.canonical != call.arguments:
            return ActionResult(False, "action_changed", "the arguments are not canonical")
        if checked.tier is not record.tier:
            return ActionResult(False, "tier_changed", "the action's tier has changed")
        action = self._actions[record.tool]
        config = policy.configs[record.tool]
        reason = action.check(checked.arguments, config)
        if reason is not None:
            return ActionResult(False, "not_allowed", "the tenant's rules no longer allow it")
        caller = CallerRef(record.tenant_id, user.id, user.email, user.role)
        return await self._run(action, caller, checked, config)

    async def _run(
        self, action: Action, caller: CallerRef, call: ValidatedCall, config: Any
    ) -> ActionResult:
        try:
            return await anyio.to_thread.run_sync(
                action.run, self._services, caller, call.arguments, config
            )
        except Exception as exc:  # an action's bug must not leave the row running
            log.error("action failed tool=%s error=%s", call.spec.name, type(exc).__name__)
            return ActionResult(False, "action_error", "the action failed")

    async def _finish(self, record: ActionRecord, result: ActionResult) -> None:
        now = self._clock()
        await anyio.to_thread.run_sync(
            lambda: self._store.finish(
                record.tenant_id,
                record.id,
                ok=result.ok,
                code=result.code,
                message=result.message,
                detail=result.detail,
                now=now,
            )
        )

    async def _notify(self, url: str, record: ActionRecord, caller: CallerRef) -> str:
        payload = {
            "type": "bastion.approval_requested",
            "approval_id": record.id,
            "tenant_id": record.tenant_id,
            "tool": record.tool,
            "tier": int(record.tier),
            "requester_id": record.requester_id,
            "requester_email": caller.user_email,
            "created_at": record.created_at.isoformat(),
            "expires_at": record.expires_at.isoformat(),
            "action_hash": record.action_hash,
        }
        hosts, timeout = self._services.hosts, self._services.http_timeout
        return await anyio.to_thread.run_sync(
            lambda: notify_approvers(hosts, url, payload, timeout=timeout)
        )

    async def _get(self, tenant_id: str, action_id: str) -> ActionRecord:
        try:
            return await anyio.to_thread.run_sync(self._store.get, tenant_id, action_id)
        except ActionNotFound:
            raise NotFound("No such action.") from None

    async def _expire_if_due(
        self, principal: Principal, route: str, record: ActionRecord, now: datetime
    ) -> None:
        if record.shown_status(now) != "expired":
            return
        expired = await anyio.to_thread.run_sync(
            lambda: self._store.close(
                record.tenant_id, record.id, "expired", decided_by=None, now=now
            )
        )
        if expired:
            await self._audit(principal, route, "action_expired", record)
        raise Conflict("The action has expired; ask again.", code="action_expired")

    async def _refuse_stale(self, principal: Principal, route: str, record: ActionRecord) -> None:
        """Raise the conflict that says why a pending-only step cannot happen now."""
        current = await self._get(record.tenant_id, record.id)
        now = self._clock()
        if current.shown_status(now) == "expired":
            await self._expire_if_due(principal, route, current, now)
        await self._audit(principal, route, "action_refused", current, "action_decided")
        raise Conflict(
            f"The action was already decided (it is {current.status}); a decision is used once.",
            code="action_decided",
        )

    async def _audit(
        self,
        principal: Principal,
        route: str,
        outcome: str,
        record: ActionRecord,
        error_code: str | None = None,
    ) -> None:
        await record_decision(
            self._append,
            ts=self._clock(),
            tenant_id=principal.tenant_id,
            route=route,
            outcome=outcome,
            unavailable="The decision could not be recorded; nothing was done.",
            user_id=principal.user_id,
            key_id=principal.key_id,
            session_id=principal.session_id,
            error_code=error_code,
            extra={
                "action_id": record.id,
                "tool": record.tool,
                "tier": int(record.tier),
                "action_hash": record.action_hash,
                "requester_id": record.requester_id,
            },
        )


def _pending_message(tier: Tier) -> str:
    """What the model hears of a pending action: a plain status, no instructions (the
    summary goes to the person, in the reply)."""
    if tier is Tier.CONFIRM:
        return "waiting for the user's confirmation in Bastion"
    return "waiting for an approver's decision in Bastion"
