"""``/console/incidents``: the tenant's incidents (``incidents.read``), one incident's
timeline, the active isolations (:mod:`bastion.console.isolations`), and, for
``incidents.respond`` (a step-up permission), running a playbook on a subject, closing
an incident and releasing an isolation.

The actions are what ``POST /v1/incidents`` and ``POST /v1/incidents/{id}/close`` do,
through the same calls: :func:`~bastion.response.run_playbook` (it records every step
in the incident's timeline and the audit chain; the gateway's isolation gate then
reloads) and :func:`~bastion.response.close_incident` (audited too). A timeline holds
identifiers and counts, never content. Replacement API keys a
``compromised_credentials`` run issues are shown once, in that run's answer.
"""

from __future__ import annotations

import re
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from bastion.console import isolations
from bastion.console.kit import ConsoleKit
from bastion.console.pages import page_named
from bastion.console.people import emails_by_id
from bastion.gateway.callers import Caller
from bastion.response import (
    PLAYBOOKS,
    IncidentNotFound,
    IncidentStore,
    Isolations,
    Subject,
    close_incident,
    run_playbook,
)

__all__ = ["router"]

STATUSES = ("open", "contained", "closed")
SUBJECT_FIELDS = ("user_id", "session_id", "key_id", "conversation_id", "request_id")
_ID = re.compile(r"[A-Za-z0-9:_.@-]{1,80}")  # as the API's subject fields
_INCIDENT_ID = re.compile(r"[0-9a-f-]{36}")


def _subject_of(tenant_id: str, form: dict[str, str]) -> Subject | str:
    """The subject the form names, or what is wrong with it (in words)."""
    given: dict[str, str] = {}
    for name in SUBJECT_FIELDS:
        value = form.get(name, "").strip()
        if not value:
            continue
        if not _ID.fullmatch(value):
            label = name.replace("_", " ")
            return f"The {label} is not an identifier (letters, digits and :_.@- only)."
        given[name] = value
    if not given:
        return "Name the incident's subject: a user, session, key, conversation or request."
    return Subject(
        tenant_id=tenant_id,
        user_id=given.get("user_id"),
        session_id=given.get("session_id"),
        key_id=given.get("key_id"),
        conversation_id=given.get("conversation_id"),
        request_id=given.get("request_id"),
    )


def router(kit: ConsoleKit) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    api.include_router(isolations.router(kit))  # releasing an isolation
    page = page_named("incidents")
    services = kit.runtime.response
    store = IncidentStore(services.engine, services.clock, services.keyring)
    active = Isolations(services.engine, services.clock)

    def base(caller: Caller) -> dict[str, Any]:
        tenant_id = caller.principal.tenant_id
        return {
            "names": emails_by_id(kit.runtime.engine, tenant_id),
            "can_respond": kit.callers_allowed(caller, "incidents.respond"),
        }

    @api.get(page.path)
    async def listing(request: Request, status: str = "") -> Response:
        caller = await kit.open_page(request, page)
        if isinstance(caller, Response):
            return caller
        tenant_id = caller.principal.tenant_id
        error = ""
        if status and status not in STATUSES:
            error, status = "Unknown status: showing every incident.", ""
        statuses = (status,) if status else ()
        found = await anyio.to_thread.run_sync(lambda: store.list(tenant_id, statuses=statuses))
        isolated = await anyio.to_thread.run_sync(active.listed, tenant_id)
        extra = await anyio.to_thread.run_sync(base, caller)
        return kit.render(
            "incidents.html",
            caller,
            page,
            incidents=found,
            status=status,
            statuses=STATUSES,
            error=error,
            playbooks=list(PLAYBOOKS.values()),
            subject_fields=SUBJECT_FIELDS[1:],
            isolations=isolated,
            release=isolations.RELEASE,
            **extra,
        )

    @api.get(page.path + "/{incident_id}")
    async def one(request: Request, incident_id: str) -> Response:
        caller = await kit.open_page(request, page)
        if isinstance(caller, Response):
            return caller
        tenant_id = caller.principal.tenant_id
        try:
            incident = await anyio.to_thread.run_sync(store.get, tenant_id, incident_id)
        except IncidentNotFound:
            context = {**kit.frame(caller, page), "incident": None, "names": {}}
            return kit.renderer.page("incident.html", context, status=404)
        extra = await anyio.to_thread.run_sync(base, caller)
        return kit.render("incident.html", caller, page, incident=incident, **extra)

    @api.post(page.path + "/run")
    async def run(request: Request) -> Response:
        acting = await kit.act_on_form(request, "incidents.respond", page.path, 8192)
        if isinstance(acting, Response):
            return acting
        caller, form = acting
        p = caller.principal
        name = form.get("playbook", "")
        if name not in PLAYBOOKS:
            return kit.fragment(
                f"Choose a playbook: {', '.join(PLAYBOOKS)}.", code="invalid_request"
            )
        subject = _subject_of(p.tenant_id, form)
        if isinstance(subject, str):
            return kit.fragment(subject, code="invalid_request")
        report = await run_playbook(name, subject, services, trigger="manual", opened_by=p.user_id)
        kit.runtime.gate.forget(p.tenant_id)  # isolations may have changed
        context = {"incident": report.incident, "issued": report.issued_keys}
        return kit.renderer.page("incident_run.html", context)

    @api.post(page.path + "/{incident_id}/close")
    async def close(request: Request, incident_id: str) -> Response:
        known = _INCIDENT_ID.fullmatch(incident_id) is not None
        back = f"{page.path}/{incident_id}" if known else page.path
        caller = await kit.act(request, "incidents.respond", back)
        if isinstance(caller, Response):
            return caller
        p = caller.principal
        try:
            await anyio.to_thread.run_sync(store.get, p.tenant_id, incident_id)
        except IncidentNotFound:
            return kit.fragment("No such incident.", code="not_found")
        if not await close_incident(services, p.tenant_id, incident_id, p.user_id):
            return kit.fragment("The incident was already closed.", code="already_closed")
        context = {"message": "Closed. Its isolations stay until released.", "code": "closed"}
        return kit.renderer.page("incident_notice.html", context)

    return api
