"""``/v1/incidents``: run a playbook by hand, read incidents and their timelines, close
them, list and release isolations. Scoped to the caller's tenant; ``incidents.read`` to read,
``incidents.respond`` (a step-up permission) to act. Every action is in the audit
chain (the playbook runner writes it). New API keys a ``compromised_credentials`` run
issues are in its response, once; nothing else ever shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import anyio.to_thread
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from bastion.errors import InvalidRequest, NotFound
from bastion.gateway.callers import Caller, Callers
from bastion.gateway.openapi import error_responses
from bastion.response import (
    Incident,
    IncidentNotFound,
    IncidentStore,
    Isolations,
    ResponseServices,
    Subject,
    close_incident,
    release_isolation,
    run_playbook,
)

__all__ = ["incident_router"]

_ID = r"^[A-Za-z0-9:_.@-]{1,80}$"
_ERRORS = error_responses(
    {
        "400": "Invalid body, or no subject named",
        "401": "Not authenticated",
        "403": "The role lacks incidents.read or incidents.respond, a recent sign-in "
        "is needed (step-up), or the caller is isolated",
        "404": "No such incident or active isolation in the caller's tenant",
    }
)


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(default=None, pattern=_ID)
    session_id: str | None = Field(default=None, pattern=_ID)
    key_id: str | None = Field(default=None, pattern=_ID)
    conversation_id: str | None = Field(default=None, pattern=_ID)
    request_id: str | None = Field(default=None, pattern=_ID)


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    playbook: Literal["injection", "data_leakage", "harmful_output", "compromised_credentials"]
    subject: SubjectIn


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    step: str
    status: str
    detail: dict[str, Any]
    ts: datetime


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    playbook: str
    status: str
    trigger: str
    user_id: str | None
    session_id: str | None
    key_id: str | None
    conversation_id: str | None
    request_id: str | None
    opened_by: str
    opened_at: datetime
    closed_at: datetime | None
    steps: list[StepOut]


class IssuedKeyOut(BaseModel):
    key_id: str
    prefix: str
    user_email: str
    secret: str


class RunOut(IncidentOut):
    issued_keys: list[IssuedKeyOut] = Field(
        description="Replacement API keys (compromised_credentials), shown only here."
    )


class IncidentList(BaseModel):
    data: list[IncidentOut]


class IsolationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    ref: str = Field(description="The isolated session, API key or conversation id.")
    since: datetime
    incident_id: str
    playbook: str
    incident_status: str
    user_id: str | None


class IsolationList(BaseModel):
    data: list[IsolationOut]


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["session", "conversation", "key"]
    ref: str = Field(pattern=_ID)


def incident_router(
    services: ResponseServices, callers: Callers, on_change: Callable[[str], None]
) -> APIRouter:
    """``on_change(tenant_id)``: isolations changed (the gateway's gate reloads them)."""
    router = APIRouter(tags=["incidents"], responses=_ERRORS)
    store = IncidentStore(services.engine, services.clock, services.keyring)
    isolations = Isolations(services.engine, services.clock)

    async def caller(request: Request, permission: str) -> Caller:
        return await callers.identify_for(request, permission)

    async def get(tenant_id: str, incident_id: str) -> Incident:
        try:
            return await anyio.to_thread.run_sync(store.get, tenant_id, incident_id)
        except IncidentNotFound:
            raise NotFound("No such incident.") from None

    @router.post("/v1/incidents", response_model=RunOut, status_code=201)
    async def run(request: Request, body: RunIn) -> RunOut:
        """Open an incident and run a playbook on its subject now."""
        c = await caller(request, "incidents.respond")
        p = c.principal
        given = body.subject.model_dump()
        if not any(given.values()):
            raise InvalidRequest("Name the incident's subject: a user, session, key or request.")
        subject = Subject(tenant_id=p.tenant_id, **given)
        report = await run_playbook(
            body.playbook, subject, services, trigger="manual", opened_by=p.user_id
        )
        on_change(p.tenant_id)
        keys = [
            IssuedKeyOut(key_id=k.id, prefix=k.prefix, user_email=k.user_email, secret=k.secret)
            for k in report.issued_keys
        ]
        shown = IncidentOut.model_validate(report.incident).model_dump()
        return RunOut(**shown, issued_keys=keys)

    @router.get("/v1/incidents", response_model=IncidentList)
    async def listing(request: Request, status: str | None = None) -> IncidentList:
        """The tenant's incidents, newest first (status: open, contained or closed)."""
        c = await caller(request, "incidents.read")
        statuses = (status,) if status else ()
        found = await anyio.to_thread.run_sync(
            lambda: store.list(c.principal.tenant_id, statuses=statuses)
        )
        return IncidentList(data=[IncidentOut.model_validate(i) for i in found])

    @router.get("/v1/incidents/{incident_id}", response_model=IncidentOut)
    async def one(request: Request, incident_id: str) -> IncidentOut:
        """One incident and its timeline (identifiers and counts; no content)."""
        c = await caller(request, "incidents.read")
        return IncidentOut.model_validate(await get(c.principal.tenant_id, incident_id))

    @router.post("/v1/incidents/{incident_id}/close", response_model=IncidentOut)
    async def close(request: Request, incident_id: str) -> IncidentOut:
        """Close the incident (its isolations stay until released)."""
        c = await caller(request, "incidents.respond")
        tenant_id = c.principal.tenant_id
        await get(tenant_id, incident_id)
        await close_incident(services, tenant_id, incident_id, c.principal.user_id)
        return IncidentOut.model_validate(await get(tenant_id, incident_id))

    @router.get("/v1/isolations", response_model=IsolationList)
    async def isolated(request: Request) -> IsolationList:
        """The tenant's active isolations, newest first (at most 1,000), each with the
        incident that made it: the sessions, keys and conversations refused now."""
        c = await caller(request, "incidents.read")
        found = await anyio.to_thread.run_sync(isolations.listed, c.principal.tenant_id)
        return IsolationList(data=[IsolationOut.model_validate(i) for i in found])

    @router.post("/v1/isolations/release", status_code=204)
    async def release(request: Request, body: ReleaseIn) -> None:
        """Lift an isolation: the session, conversation or key may be used again."""
        c = await caller(request, "incidents.respond")
        tenant_id = c.principal.tenant_id
        if not await release_isolation(
            services, tenant_id, body.kind, body.ref, c.principal.user_id
        ):
            raise NotFound("No active isolation of that session, conversation or key.")
        on_change(tenant_id)

    return router
