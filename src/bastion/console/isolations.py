"""The isolations section of ``/console/incidents``: every active isolation of the
caller's tenant (``incidents.read``), and releasing one (``incidents.respond``, a
step-up permission).

Releasing is what ``POST /v1/isolations/release`` does, through the same call:
:func:`~bastion.response.release_isolation` (it records ``isolation_released`` in the
audit chain before it returns), then the gateway's isolation gate forgets the tenant's
cached isolations, so the released session, conversation or key works again at once.
An isolation is shown by identifiers only: its kind and ref (a session, key or
conversation id, never a secret), since when, and the incident that made it, as
:meth:`~bastion.response.Isolations.listed` (and ``GET /v1/isolations``) gives them.
"""

from __future__ import annotations

import re
from typing import get_args

from fastapi import APIRouter, Request
from starlette.responses import Response

from bastion.console.kit import ConsoleKit
from bastion.console.pages import page_named
from bastion.response import IsolationKind, release_isolation

__all__ = ["RELEASE", "router"]

RELEASE = "/console/incidents/isolations/release"
_KINDS: dict[str, IsolationKind] = {kind: kind for kind in get_args(IsolationKind)}
_REF = re.compile(r"[A-Za-z0-9:_.@-]{1,80}")  # as the API's ReleaseIn.ref


def router(kit: ConsoleKit) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    page = page_named("incidents")

    @api.post(RELEASE)
    async def release(request: Request) -> Response:
        acting = await kit.act_on_form(request, "incidents.respond", page.path, 4096)
        if isinstance(acting, Response):
            return acting
        caller, form = acting
        p = caller.principal
        kind, ref = _KINDS.get(form.get("kind", "")), form.get("ref", "")
        if kind is None or not _REF.fullmatch(ref):
            return kit.fragment(
                "Name the isolation to release: a session, conversation or key, and its id.",
                code="invalid_request",
            )
        released = await release_isolation(kit.runtime.response, p.tenant_id, kind, ref, p.user_id)
        if not released:
            return kit.fragment(
                "No active isolation of that session, conversation or key.",
                link=(page.path, "Reload"),
                code="not_found",
            )
        kit.runtime.gate.forget(p.tenant_id)  # the released subject works again at once
        context = {"message": f"Released: the {kind} may be used again.", "code": "released"}
        return kit.renderer.page("incident_notice.html", context)

    return api
