"""The request path for chat: authorise, scan in, assemble, call, scan out, audit.

Routes translate their API style into :class:`ChatInput` and back; everything that
decides anything lives here. The model is untrusted: its output is scanned before a
byte reaches the client, streaming included (see ``bastion.scanners.StreamGuard``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

import anyio.to_thread
import orjson
from sqlalchemy.exc import SQLAlchemyError

from bastion.audit import AuditEvent, AuditLog
from bastion.authz import allowed
from bastion.crypto.providers import KeyProviderUnavailable, UnwrapError
from bastion.dlp.hashkey import HashKeys
from bastion.dlp.operators import Pseudonyms, StreamRestorer, restore
from bastion.dlp.vault import PseudonymVault, VaultError, vault_owner
from bastion.errors import (
    AuditUnavailable,
    BastionError,
    ModelNotAllowed,
    PermissionDenied,
    RequestBlocked,
    VaultUnavailable,
)
from bastion.gateway.assemble import assemble_messages, gateway_system_message, needs_spotlight
from bastion.gateway.interaction import ChatInput, Interaction, outcome_for
from bastion.gateway.policies import PolicyStore, ResolvedPolicy
from bastion.gateway.residency_check import check_residency
from bastion.gateway.spotlight import Spotlight, generate_boundary, scan_role
from bastion.gateway.tool_calls import (
    restore_tool_calls,
    rewritten_arguments,
    tool_call_texts,
)
from bastion.ratelimit import RateLimiter, used_tokens
from bastion.scanners import Decision, Pipeline, ScanContext, Stage, StreamGuard, Verdict
from bastion.settings import ModelConfig, Settings
from bastion.upstream import UpstreamPool
from bastion.upstream.base import ChatMessage, ChatRequest, ChatResult, StreamDelta, Usage

__all__ = ["ChatService", "Prepared"]

log = logging.getLogger("bastion.gateway")

_BLOCKED_INPUT = "The request was blocked by policy"
_BLOCKED_OUTPUT = "The response was blocked by policy"


@dataclass(slots=True)
class Prepared:
    resolved: ResolvedPolicy
    model: ModelConfig
    request: ChatRequest
    output_context: ScanContext
    include_usage: bool
    # The request's placeholder map: what the ``pii`` scanner pseudonymized on the way
    # in is restored in the answer, for this caller only.
    pseudonyms: Pseudonyms
    # The conversation's vault owner (caller and conversation id), None without one.
    vault_owner: str | None = None


class ChatService:
    def __init__(
        self,
        settings: Settings,
        policies: PolicyStore,
        upstreams: UpstreamPool,
        audit: AuditLog,
        clock: Callable[[], datetime],
        canary: Callable[[], str],
        boundary: Callable[[], str] = generate_boundary,
        *,
        vault: PseudonymVault | None = None,
        hash_keys: HashKeys | None = None,
        limiter: RateLimiter,
    ) -> None:
        self._settings = settings
        self._limiter = limiter
        self._vault = vault
        self._hash_keys = hash_keys
        self._policies = policies
        self._upstreams = upstreams
        self._audit = audit
        self._clock = clock
        self._canary = canary
        self._boundary = boundary

    def use_models(self, models: list[ModelConfig]) -> None:
        """Serve ``models`` from the next request (upstream keys rotated)."""
        self._settings = self._settings.model_copy(update={"models": models})

    # -- before the upstream ------------------------------------------------------
    async def prepare(self, it: Interaction, call: ChatInput) -> Prepared:
        principal = it.principal
        it.model, it.stream = call.model, call.stream
        it.prompt = [{"role": m.role, "content": m.content} for m in call.messages]
        if not allowed(principal.role, "chat"):
            raise PermissionDenied("This key may not call chat models.")
        resolved = self._policies.get(principal.policy)
        policy = resolved.policy
        model = self._settings.model(call.model)
        if model is None or not resolved.allows_model(principal.role, call.model):
            raise ModelNotAllowed(
                f"The model '{call.model}' does not exist or you do not have access to it.",
                param="model",
            )
        # Counted before anything is scanned or sent: a refused or blocked request counts.
        it.meter = await self._limiter.admit(resolved.rate_limits, principal)
        owner = self._vault_owner(it, call)
        pseudonyms = await self._load_pseudonyms(it, owner)
        hash_key = await self._hash_key(it, resolved)
        messages = await self._scan_input(it, resolved, call.messages, pseudonyms, hash_key)
        await check_residency(resolved, model, messages)
        if call.tools and not call.gateway_tools:
            # A client's tool definitions reach the model too: scan their text, whole.
            context = ScanContext(
                stage=Stage.INPUT,
                role="tool_definition",
                request_id=it.request_id,
                tenant=principal.tenant_id,
            )
            text = orjson.dumps(call.tools).decode()
            await self._check(it, resolved.pipeline, context, text, "tools", strict=True)
        canary = self._canary() if policy.canary else None
        spotlight = (
            Spotlight(self._boundary(), datamark=policy.datamark)
            if needs_spotlight(policy, messages)
            else None
        )
        request = ChatRequest(
            model=model.target_model,
            messages=assemble_messages(policy, messages, canary, spotlight),
            stream=call.stream,
            params=call.params,
            tools=call.tools,
            tool_choice=call.tool_choice,
        )
        # The whole gateway message but the canary, which has its own scanner.
        secrets = {"system_prompt": gateway_system_message(policy, None, spotlight)}
        if canary is not None:
            secrets["canary"] = canary
        context = ScanContext(
            stage=Stage.OUTPUT,
            role="assistant",
            request_id=it.request_id,
            tenant=principal.tenant_id,
            secrets=secrets,
            hash_key=hash_key,
        )
        return Prepared(resolved, model, request, context, call.include_usage, pseudonyms, owner)

    def _vault_owner(self, it: Interaction, call: ChatInput) -> str | None:
        if self._vault is None or call.conversation is None:
            return None
        return vault_owner(it.principal.key_id, call.conversation)

    async def _load_pseudonyms(self, it: Interaction, owner: str | None) -> Pseudonyms:
        """The conversation's map from the vault, or a fresh one (fail closed: a vault
        that will not open refuses the request rather than losing track of values)."""
        if self._vault is None or owner is None:
            return Pseudonyms()
        try:
            return await anyio.to_thread.run_sync(self._vault.load, it.principal.tenant_id, owner)
        except (VaultError, KeyProviderUnavailable, UnwrapError, SQLAlchemyError) as exc:
            log.error(
                "pseudonym vault unavailable request_id=%s error=%s",
                it.request_id,
                type(exc).__name__,
            )
            raise VaultUnavailable("The conversation's data vault is unavailable.") from None

    async def _hash_key(self, it: Interaction, resolved: ResolvedPolicy) -> bytes | None:
        """The tenant's key for the ``hash`` action, when its policy hashes anything.
        Without a keyring (``--dev`` without a KEK) hashed values are redacted instead;
        a keyring that fails refuses the request rather than changing the tokens."""
        if not resolved.needs_hash_key or self._hash_keys is None:
            return None
        try:
            return await anyio.to_thread.run_sync(
                self._hash_keys.for_tenant, it.principal.tenant_id
            )
        except (KeyProviderUnavailable, UnwrapError, SQLAlchemyError) as exc:
            log.error(
                "dlp hash key unavailable request_id=%s error=%s",
                it.request_id,
                type(exc).__name__,
            )
            raise VaultUnavailable("The tenant's data keys are unavailable.") from None

    async def _save_pseudonyms(self, it: Interaction, prepared: Prepared) -> None:
        """Keep the conversation's placeholders for its next turns. A failure loses only
        that continuity (a later turn numbers its values afresh), so it is logged and the
        answer still goes out."""
        if self._vault is None or prepared.vault_owner is None:
            return
        try:
            await anyio.to_thread.run_sync(
                self._vault.save, it.principal.tenant_id, prepared.vault_owner, prepared.pseudonyms
            )
        except (VaultError, KeyProviderUnavailable, UnwrapError, SQLAlchemyError) as exc:
            log.error(
                "pseudonym vault save failed request_id=%s error=%s",
                it.request_id,
                type(exc).__name__,
            )

    async def _check(
        self,
        it: Interaction,
        pipeline: Pipeline,
        context: ScanContext,
        text: str,
        target: str,
        *,
        strict: bool = False,
    ) -> Verdict:
        """Scan ``text``, record the verdicts, raise on a block.

        ``strict`` (tool-call arguments, which cannot be redacted in place) turns a
        redact into a block.
        """
        verdict = await pipeline.run(context.stage, text, context)
        it.add_results(context.stage, target, verdict.results)
        if verdict.decision is Decision.BLOCK or (strict and verdict.decision is Decision.REDACT):
            _refuse(it, context, verdict)
        return verdict

    async def _scan_history_tool_calls(
        self,
        it: Interaction,
        pipeline: Pipeline,
        context: ScanContext,
        tool_calls: list[dict[str, object]] | None,
        target: str,
    ) -> list[dict[str, object]] | None:
        """Tool calls in the conversation so far, each scanned whole (name and
        arguments). Personal data in the arguments is rewritten as the ``pii`` scanner
        says (placeholders, masks and markers are JSON-safe; the result must still
        parse); any other redaction cannot be done in place and blocks."""
        if not tool_calls:
            return tool_calls
        out: list[dict[str, object]] = []
        for call in tool_calls:
            function = call.get("function")
            if not isinstance(function, dict):
                out.append(call)
                continue
            name, arguments = str(function.get("name", "")), function.get("arguments", "")
            verdict = await pipeline.run(context.stage, f"{name} {arguments}", context)
            it.add_results(context.stage, target, verdict.results)
            if verdict.decision is Decision.BLOCK:
                _refuse(it, context, verdict)
            if verdict.decision is Decision.REDACT:
                rewritten = rewritten_arguments(verdict, name, arguments)
                if rewritten is None:
                    _refuse(it, context, verdict)
                call = {**call, "function": {**function, "arguments": rewritten}}
            out.append(call)
        return out

    async def _scan_input(
        self,
        it: Interaction,
        resolved: ResolvedPolicy,
        messages: list[ChatMessage],
        pseudonyms: Pseudonyms,
        hash_key: bytes | None,
    ) -> list[ChatMessage]:
        out: list[ChatMessage] = []
        untrusted = resolved.policy.untrusted_roles
        for index, message in enumerate(messages):
            # Tool results and other untrusted roles get the indirect-injection profile.
            context = ScanContext(
                stage=Stage.INPUT,
                role=scan_role(message.role, untrusted),
                request_id=it.request_id,
                tenant=it.principal.tenant_id,
                pseudonyms=pseudonyms,
                hash_key=hash_key,
            )
            content = message.content
            if content:
                verdict = await self._check(
                    it, resolved.pipeline, context, content, f"messages[{index}]"
                )
                content = verdict.text
            tool_calls = await self._scan_history_tool_calls(
                it, resolved.pipeline, context, message.tool_calls, f"messages[{index}].tool_calls"
            )
            out.append(
                ChatMessage(
                    role=message.role,
                    content=content,
                    name=message.name,
                    tool_call_id=message.tool_call_id,
                    tool_calls=tool_calls,
                )
            )
        return out

    # -- the upstream and the way back ---------------------------------------------
    async def complete(self, it: Interaction, prepared: Prepared) -> ChatResult:
        upstream = self._upstreams.get(prepared.model)
        result = await upstream.complete(prepared.request)
        it.usage = result.usage
        pipeline, context = prepared.resolved.pipeline, prepared.output_context
        for choice in result.choices:
            target = f"choices[{choice.index}]"
            if choice.content:
                verdict = await self._check(it, pipeline, context, choice.content, target)
                choice.content = restore(verdict.text, prepared.pseudonyms)
            for text in tool_call_texts(choice.tool_calls):
                await self._check(it, pipeline, context, text, target + ".tool_calls", strict=True)
            restore_tool_calls(choice.tool_calls, prepared.pseudonyms)
        it.response = [choice.content for choice in result.choices]
        result.model = it.model
        await self._save_pseudonyms(it, prepared)
        return result

    async def stream(
        self, it: Interaction, prepared: Prepared
    ) -> AsyncGenerator[StreamDelta, None]:
        """Guarded deltas; raises :class:`RequestBlocked` the moment a guard blocks."""
        upstream = self._upstreams.get(prepared.model)
        pipeline = prepared.resolved.pipeline
        holdback = prepared.resolved.policy.stream_holdback_chars
        guards: dict[int, StreamGuard] = {}
        restorers: dict[int, StreamRestorer] = {}
        delivered: dict[int, list[str]] = {}
        finished: set[int] = set()
        usage: Usage | None = None
        it.response = []

        def guard_for(index: int) -> StreamGuard:
            guard = guards.get(index)
            if guard is None:
                guard = StreamGuard(pipeline, prepared.output_context, holdback)
                guards[index] = guard
                restorers[index] = StreamRestorer(prepared.pseudonyms)
                delivered[index] = []
            return guard

        def check(index: int, guard: StreamGuard) -> None:
            if guard.blocked:
                it.add_results(Stage.OUTPUT, f"choices[{index}]", guard.results)
                it.blocked_stage = "output"
                reasons = guard.verdict.reasons if guard.verdict is not None else ()
                raise RequestBlocked(_reasons_message(_BLOCKED_OUTPUT, reasons), reasons=reasons)

        try:
            async with aclosing(upstream.stream(prepared.request)) as upstream_deltas:
                async for delta in upstream_deltas:
                    if delta.usage is not None:
                        usage = it.usage = delta.usage
                    if delta.index in finished:
                        continue
                    guard = guard_for(delta.index)
                    text = await guard.feed(delta.text) if delta.text else ""
                    check(delta.index, guard)
                    restorer = restorers[delta.index]
                    text = restorer.feed(text) if text else ""
                    tool_calls = None
                    if delta.finish_reason is not None:
                        text += restorer.feed(await guard.finish())
                        check(delta.index, guard)
                        text += restorer.finish()
                        tool_calls = await self._scan_tool_calls(it, prepared, delta)
                        finished.add(delta.index)
                        it.add_results(Stage.OUTPUT, f"choices[{delta.index}]", guard.results)
                    if text or delta.finish_reason is not None:
                        delivered[delta.index].append(text)
                        yield StreamDelta(
                            index=delta.index,
                            text=text,
                            finish_reason=delta.finish_reason,
                            tool_calls=tool_calls,
                        )
            for index, guard in guards.items():
                if index not in finished:
                    rest = restorers[index].feed(await guard.finish())
                    check(index, guard)
                    rest += restorers[index].finish()
                    it.add_results(Stage.OUTPUT, f"choices[{index}]", guard.results)
                    delivered[index].append(rest)
                    yield StreamDelta(index=index, text=rest, finish_reason="stop")
            await self._save_pseudonyms(it, prepared)
            if usage is not None and prepared.include_usage:
                yield StreamDelta(index=0, usage=usage)
        finally:
            it.response = ["".join(delivered[i]) for i in sorted(delivered)]

    async def _scan_tool_calls(
        self, it: Interaction, prepared: Prepared, delta: StreamDelta
    ) -> list[dict[str, object]] | None:
        pipeline, context = prepared.resolved.pipeline, prepared.output_context
        target = f"choices[{delta.index}].tool_calls"
        for text in tool_call_texts(delta.tool_calls):
            await self._check(it, pipeline, context, text, target, strict=True)
        restore_tool_calls(delta.tool_calls, prepared.pseudonyms)
        return delta.tool_calls

    # -- the record ---------------------------------------------------------------
    async def record(self, it: Interaction, error: BastionError | None = None) -> None:
        """Write the interaction's one audit record; no record, no response."""
        if it.recorded:
            return
        it.recorded = True
        principal = it.principal
        event = AuditEvent(
            ts=self._clock(),
            request_id=it.request_id,
            session_id=principal.session_id,
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            key_id=principal.key_id,
            model=it.model,
            route=it.route,
            stream=it.stream,
            prompt=it.prompt,
            data_sources=it.data_sources,
            response=it.response,
            actions=it.actions,
            verdicts=it.verdicts,
            latency_ms=it.latency_ms(),
            outcome=outcome_for(it, error),
            error_code=error.code if error is not None else None,
        )
        if it.meter is not None:  # synchronous: starts even while the request is cancelled
            it.meter.charge(used_tokens(it.usage, it.prompt, it.response))
        try:
            # append() queues the record before its first await, so even if this
            # request is cancelled (client gone) the record is still committed.
            await self._audit.append(event)
        except Exception as exc:
            # Only the exception's type: database errors can quote statement parameters,
            # which here would be prompt text.
            log.error(
                "audit append failed request_id=%s error=%s", it.request_id, type(exc).__name__
            )
            raise AuditUnavailable(
                "The request could not be recorded; it was not served."
            ) from None


def _refuse(it: Interaction, context: ScanContext, verdict: Verdict) -> NoReturn:
    it.blocked_stage = context.stage.value
    base = _BLOCKED_INPUT if context.stage is Stage.INPUT else _BLOCKED_OUTPUT
    raise RequestBlocked(_reasons_message(base, verdict.reasons), reasons=verdict.reasons)


def _reasons_message(base: str, reasons: tuple[str, ...]) -> str:
    return f"{base} ({', '.join(reasons)})." if reasons else f"{base}."
