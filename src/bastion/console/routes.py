"""``/console``: sign-in, the pages, and the vendored static files.

A console page needs a browser session (the cookie the tenant's SSO sign-in sets); a
request without one is sent to ``/console/login``. Each page checks its permission on
the server (``PAGES``); the navigation lists only the pages the role grants. Actions
are htmx requests that carry the session's CSRF token in ``X-CSRF-Token`` (set once on
``<body hx-headers>``), so the gateway's usual CSRF check applies to them.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from bastion.console import (
    approvals_page,
    audit_page,
    break_glass_route,
    incidents_page,
    keys_page,
    overview_page,
    policy_page,
    posture_page,
    sources_page,
    threat_page,
)
from bastion.console.kit import LOGIN, ConsoleKit
from bastion.console.pages import visible_pages
from bastion.console.render import Renderer
from bastion.errors import BastionError
from bastion.gateway.callers import Callers
from bastion.gateway.runtime import Runtime
from bastion.identity import IdentityError
from bastion.sessions.cookies import clear_session_cookie

__all__ = ["console_router", "console_static"]

STATIC = Path(__file__).parent / "static"
# Each page module's router; its Page is listed in bastion.console.pages.PAGES.
PAGE_MODULES = (
    overview_page,
    audit_page,
    policy_page,
    posture_page,
    threat_page,
    approvals_page,
    incidents_page,
    keys_page,
    sources_page,
)


def console_static() -> StaticFiles:
    return StaticFiles(directory=STATIC)


def console_router(runtime: Runtime, callers: Callers, *, secure: bool) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    kit = ConsoleKit(runtime, callers, Renderer(), secure)
    renderer = kit.renderer

    @router.get("/console")
    async def home(request: Request) -> Response:
        caller = await kit.session_caller(request)
        if caller is None:
            return RedirectResponse(LOGIN, status_code=303)
        pages = visible_pages(caller.role, kit.capabilities())
        if not pages:
            return kit.denied(caller, "Your role has no console pages.")
        return RedirectResponse(pages[0].path, status_code=303)

    @router.get(LOGIN)
    async def login(request: Request, tenant: str = "", error: str = "") -> Response:
        context: dict[str, object] = {
            "tenant": tenant[:128],
            "error": error[:200],
            "pages": [],
            "user": "",
            "break_glass": runtime.settings.console_break_glass,
        }
        return renderer.page("login.html", context)

    @router.get(LOGIN + "/start")
    async def start(request: Request, tenant: str = "") -> Response:
        """To the tenant's identity provider, and back to the console.

        The CSP's ``form-action 'self'`` also holds for redirects after a form, and the
        IdP is another origin: so htmx gets ``HX-Redirect`` (a navigation), and a
        browser without script gets a page with a link to follow."""
        htmx = request.headers.get("hx-request") == "true"
        name = tenant.strip()[:128]
        kinds: list[str] = []
        if name:
            try:
                policy = await anyio.to_thread.run_sync(runtime.identity.tenant_policy, name)
                kinds = sorted(runtime.policies.get(policy).policy.sso)
            except (IdentityError, BastionError):
                kinds = []
        if not kinds:
            # The same answer for an unknown tenant: names are not enumerable here.
            message = quote("No single sign-on is configured for that tenant.")
            back = f"{LOGIN}?error={message}"
            if htmx:
                return Response(status_code=204, headers={"hx-redirect": back})
            return RedirectResponse(back, status_code=303)
        kind = "oidc" if "oidc" in kinds else "saml"
        target = f"/sso/{quote(name)}/{kind}/login?return_to=/console"
        if htmx:
            return Response(status_code=204, headers={"hx-redirect": target})
        context = {"target": target, "tenant": name, "pages": [], "user": ""}
        return renderer.page("continue.html", context)

    @router.post("/console/logout")
    async def logout(request: Request) -> Response:
        caller = await callers.identify(request)  # a POST: the CSRF header is checked
        if caller.session is not None:
            await anyio.to_thread.run_sync(
                callers.sessions.revoke, caller.principal.tenant_id, caller.session.id
            )
        response = Response(status_code=204, headers={"hx-redirect": LOGIN})
        response.headers.append("set-cookie", clear_session_cookie(secure=secure))
        return response

    router.include_router(break_glass_route.router(kit))
    for module in PAGE_MODULES:
        router.include_router(module.router(kit))
    return router
