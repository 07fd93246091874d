"""The assistant's tools on ``/v1/chat/completions``, for tenants whose policy enables them.

With ``data_tools = true`` in the tenant's policy, an OpenAI-style request that brings
no tools of its own, from a caller whose role has ``datasources.use``, is answered by
the assistant's loop (:meth:`AssistantService.run`): the model is offered
``list_sources``, ``describe_source``, ``run_query`` and ``search_documents``, the
gateway runs them as the caller, and the client gets an ordinary ``chat.completion``
(or its stream) whose answer was made from the caller's own data. The queries that
ran, exactly as they ran, come in an extra top-level ``bastion`` object
(``{"queries": [...], "documents": [...], "actions": [...]}``), which OpenAI clients
keep as an extra field. ``actions`` lists what the model proposed under the tenant's
``[actions]`` policy: done, refused, or pending with the id, summary and hash a person
confirms or approves through ``/v1/actions`` and ``/v1/approvals``. A request with its
own ``tools`` passes through untouched: its tool calls go back to the client, as
without this setting.

A stream is the finished answer sent as one delta: the loop has to finish (and the
answer be scanned) before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from bastion.assistant.tools import CallerRef
from bastion.authz import allowed, canonical_role
from bastion.gateway.http import json_response
from bastion.gateway.interaction import ChatInput, Interaction
from bastion.gateway.runtime import Runtime
from bastion.upstream.base import ChatResult, Choice, StreamDelta

__all__ = ["answer_with_data_tools", "data_tools_apply"]


def data_tools_apply(runtime: Runtime, it: Interaction, call: ChatInput) -> bool:
    """True when this request is to be answered with the data tools."""
    principal = it.principal
    if runtime.assistant is None or call.tools:
        return False
    if not allowed(principal.role, "datasources.use"):
        return False
    return bool(runtime.policies.get(principal.policy).policy.data_tools)


async def answer_with_data_tools(
    runtime: Runtime, wire: Any, it: Interaction, call: ChatInput, request_id: str
) -> Response:
    """Run the loop, record the interaction, then answer in the wire's format."""
    assert runtime.assistant is not None  # data_tools_apply checked it
    p = it.principal
    caller = CallerRef(p.tenant_id, p.user_id, p.user_email, canonical_role(p.role))
    answer = await runtime.assistant.run(it, caller, call.model, call.messages, call.conversation)
    it.model, it.stream = call.model, call.stream
    await runtime.chat.record(it)
    extension = {
        "queries": answer.queries,
        "documents": answer.documents,
        "actions": answer.actions,
    }
    if not call.stream:
        result = ChatResult(call.model, [Choice(0, answer.answer)], answer.usage)
        payload = wire.render(result, request_id)
        payload["bastion"] = extension
        return json_response(payload, request_id=request_id)
    encoder = wire.encoder(call.model, request_id)

    def chunks() -> Iterator[bytes]:
        yield from encoder.open()
        yield from encoder.encode(StreamDelta(0, answer.answer, "stop"))
        if call.include_usage:
            yield from encoder.encode(StreamDelta(0, usage=answer.usage))
        yield from encoder.close()

    return StreamingResponse(
        chunks(),
        media_type="text/event-stream",
        headers={"x-request-id": request_id, "cache-control": "no-cache"},
    )
