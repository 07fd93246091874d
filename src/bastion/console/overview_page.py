"""``/console/overview``: the tenant's last 24 hours at a glance."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from bastion.console.kit import ConsoleKit
from bastion.console.overview import overview
from bastion.console.pages import page_named

__all__ = ["router"]


def router(kit: ConsoleKit) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    page = page_named("overview")

    @api.get(page.path)
    async def overview_page(request: Request) -> Response:
        caller = await kit.open_page(request, page)
        if isinstance(caller, Response):
            return caller
        figures = await anyio.to_thread.run_sync(
            overview, kit.runtime.engine, caller.principal.tenant_id, kit.runtime.clock()
        )
        return kit.render("overview.html", caller, page, o=figures)

    return api
