"""``/console/posture``: the go-live checklist as the caller's tenant sees it (its own
policy items and audit chain; the deployment's settings), each item with its evidence
and fix. The same checks as ``bastion posture``."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from bastion.console.kit import ConsoleKit
from bastion.console.pages import page_named
from bastion.governance.posture import evaluate

__all__ = ["router"]


def router(kit: ConsoleKit) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    page = page_named("posture")

    @api.get(page.path)
    async def posture(request: Request) -> Response:
        caller = await kit.open_page(request, page)
        if isinstance(caller, Response):
            return caller
        rt = kit.runtime
        report = await anyio.to_thread.run_sync(
            lambda: evaluate(
                rt.settings,
                rt.engine,
                rt.clock,
                tenant_id=caller.principal.tenant_id,
                policies=rt.policies,
            )
        )
        return kit.render("posture.html", caller, page, report=report)

    return api
