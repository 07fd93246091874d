"""``/console/threat-model``: the threat model of the caller's tenant, from the live
configuration (the same gathering as ``bastion threat-model``, scoped to the tenant)."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from bastion.console.kit import ConsoleKit
from bastion.console.pages import page_named
from bastion.governance.threat_model import gather
from bastion.governance.threat_render import BOUNDARIES, FAILURES

__all__ = ["router"]


def router(kit: ConsoleKit) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    page = page_named("threat-model")

    @api.get(page.path)
    async def threat_model(request: Request) -> Response:
        caller = await kit.open_page(request, page)
        if isinstance(caller, Response):
            return caller
        rt = kit.runtime
        model = await anyio.to_thread.run_sync(
            lambda: gather(
                rt.settings,
                rt.engine,
                rt.clock,
                tenant_id=caller.principal.tenant_id,
                policies=rt.policies,
            )
        )
        return kit.render(
            "threat.html", caller, page, m=model, boundaries=BOUNDARIES, failures=FAILURES
        )

    return api
