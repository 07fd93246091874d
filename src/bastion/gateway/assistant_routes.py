"""``/v1/assistant``: questions answered from the caller's own data, with the queries shown.

``POST /v1/assistant/chat`` needs ``chat`` and ``datasources.use``. The model gets the
tools of :mod:`bastion.assistant.tools`; the gateway runs them as the caller. The
answer carries every query that ran, exactly as it ran (the guard's rewrite), and the
documents cited. Every question is one audit record, whatever happens: like the chat
routes, an error after authentication is recorded before it is answered.
``GET``/``DELETE /v1/assistant/conversations/{id}`` read and forget the caller's own
conversation memory; anyone else's id is "not found".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from bastion.assistant.memory import ConversationError, ConversationNotFound
from bastion.assistant.service import AssistantService
from bastion.assistant.tools import CallerRef
from bastion.errors import BastionError, InvalidRequest, NotFound, VaultUnavailable
from bastion.gateway.callers import Caller, Callers
from bastion.gateway.chat import ChatService
from bastion.gateway.http import error_response, json_response, new_request_id, read_body
from bastion.gateway.interaction import Interaction
from bastion.gateway.openapi import error_responses

__all__ = ["AssistantAsk", "assistant_router"]

_ROUTE = "POST /v1/assistant/chat"
_ERRORS = error_responses(
    {
        "400": "Invalid body, or the question or an answer was blocked by policy",
        "401": "Not authenticated",
        "403": "The role lacks chat or datasources.use, or the model is not allowed",
        "404": "No such conversation for this caller",
        "429": "Rate limited",
        "502": "The model provider failed",
        "503": "The question could not be recorded in the audit log",
    }
)


class AssistantAsk(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1, max_length=256)
    message: str = Field(min_length=1, max_length=32_000)
    conversation_id: str | None = Field(
        default=None, max_length=36, description="Continue one of your conversations."
    )


class QueryShown(BaseModel):
    source_id: str
    source: str
    status: str = Field(description="ran | refused | failed")
    sql: str | None = Field(description="Exactly what ran: the guard's rewrite.")
    tables: list[str]
    row_count: int | None = None
    truncated: bool | None = None
    reason: str | None = None
    withheld: bool = False


class ActionProposed(BaseModel):
    tool: str
    status: str = Field(
        description="done | failed | refused | pending_confirmation | pending_approval"
    )
    code: str
    message: str
    id: str | None = None
    tier: int | None = None
    summary: str | None = None
    action_hash: str | None = None
    expires_at: str | None = None


class AssistantReply(BaseModel):
    id: str
    object: str = "assistant.answer"
    conversation_id: str
    model: str
    answer: str
    queries: list[QueryShown]
    documents: list[dict[str, Any]]
    actions: list[ActionProposed] = Field(
        default_factory=list,
        description="What the model proposed: done, failed, refused, or pending a "
        "person's decision (confirm through /v1/actions/{id}/confirm, approve through "
        "/v1/approvals/{id}/approve, naming the action_hash).",
    )
    steps: int


class TurnOut(BaseModel):
    role: str
    content: str


def _caller_ref(caller: Caller) -> CallerRef:
    p = caller.principal
    return CallerRef(p.tenant_id, p.user_id, p.user_email, caller.role)


def _require(callers: Callers, caller: Caller) -> None:
    for permission in ("chat", "datasources.use"):
        callers.require(caller, permission)


def assistant_router(
    assistant: AssistantService, chat: ChatService, callers: Callers, max_body_bytes: int
) -> APIRouter:
    router = APIRouter(tags=["assistant"], responses=_ERRORS)

    @router.post(
        "/v1/assistant/chat",
        response_model=AssistantReply,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": AssistantAsk.model_json_schema()}},
            }
        },
    )
    async def ask(request: Request) -> Response:
        """Ask a question about your data; the answer shows every query that ran."""
        request_id = new_request_id()
        caller = await callers.identify(request)
        it = Interaction(principal=caller.principal, request_id=request_id, route=_ROUTE)
        try:
            _require(callers, caller)
            try:
                body = AssistantAsk.model_validate_json(await read_body(request, max_body_bytes))
            except ValidationError as exc:
                raise InvalidRequest(_first_error(exc)) from None
            it.model = body.model
            await callers.refuse_isolated(caller, body.conversation_id)
            answer = await assistant.ask(
                it, _caller_ref(caller), body.model, body.message, body.conversation_id
            )
            reply = AssistantReply(
                id=f"asst-{request_id}",
                conversation_id=answer.conversation_id,
                model=body.model,
                answer=answer.answer,
                queries=[QueryShown(**q) for q in answer.queries],
                documents=answer.documents,
                actions=[ActionProposed(**a) for a in answer.actions],
                steps=answer.steps,
            )
            await chat.record(it)
        except ConversationNotFound:
            return await _recorded(chat, it, NotFound("No such conversation."), request_id)
        except ConversationError:
            error = VaultUnavailable("The conversation could not be opened.")
            return await _recorded(chat, it, error, request_id)
        except BastionError as exc:
            return await _recorded(chat, it, exc, request_id)
        return json_response(reply.model_dump(), request_id=request_id)

    @router.get("/v1/assistant/conversations/{conversation_id}", response_model=list[TurnOut])
    async def history(request: Request, conversation_id: str) -> list[TurnOut]:
        """Your own conversation's turns (questions and answers; tool results are not kept)."""
        caller = await callers.identify(request)
        _require(callers, caller)
        await callers.refuse_isolated(caller, conversation_id)
        try:
            turns = await assistant.history(_caller_ref(caller), conversation_id)
        except ConversationNotFound:
            raise NotFound("No such conversation.") from None
        except ConversationError:
            raise VaultUnavailable("The conversation could not be opened.") from None
        return [TurnOut(role=t.role, content=t.content) for t in turns]

    @router.delete("/v1/assistant/conversations/{conversation_id}", status_code=204)
    async def forget(request: Request, conversation_id: str) -> Response:
        """Forget your own conversation."""
        caller = await callers.identify(request)
        _require(callers, caller)
        await callers.refuse_isolated(caller, conversation_id)
        try:
            await assistant.forget(_caller_ref(caller), conversation_id)
        except ConversationNotFound:
            raise NotFound("No such conversation.") from None
        return Response(status_code=204)

    return router


async def _recorded(
    chat: ChatService, it: Interaction, error: BastionError, request_id: str
) -> Response:
    """The error's response, after its audit record (an audit failure replaces it)."""
    try:
        await chat.record(it, error)
    except BastionError as audit_error:
        error = audit_error
    return error_response(error, request_id=request_id)


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "Invalid request: body: invalid."
    where = ".".join(str(p) for p in errors[0]["loc"]) or "body"
    return f"Invalid request: {where}: {errors[0]['msg']}."
