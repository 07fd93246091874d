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

from bastion.console.overview import overview
from bastion.console.pages import PAGES, Page, visible_pages
from bastion.console.render import Renderer
from bastion.errors import AuthenticationFailed, BastionError, PermissionDenied
from bastion.gateway.callers import Caller, Callers
from bastion.gateway.runtime import Runtime
from bastion.identity import IdentityError
from bastion.sessions import csrf_token
from bastion.sessions.cookies import clear_session_cookie
from bastion.sessions.errors import SessionInvalid

__all__ = ["console_router", "console_static"]

STATIC = Path(__file__).parent / "static"
LOGIN = "/console/login"


def console_static() -> StaticFiles:
    return StaticFiles(directory=STATIC)


def console_router(runtime: Runtime, callers: Callers, *, secure: bool) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    renderer = Renderer()

    def frame(caller: Caller, page: Page | None) -> dict[str, object]:
        p = caller.principal
        return {
            "user": p.user_email,
            "role": p.role,
            "tenant": p.tenant_name,
            "pages": visible_pages(p.role),
            "current": page.slug if page else "",
            "csrf": csrf_token(caller.cookie or ""),
        }

    def denied(caller: Caller, message: str) -> Response:
        context = {**frame(caller, None), "message": message}
        return renderer.page("denied.html", context, status=403)

    async def session_caller(request: Request) -> Caller | None:
        try:
            caller = await callers.identify(request)
        except (AuthenticationFailed, SessionInvalid):
            return None
        return caller if caller.session is not None else None

    @router.get("/console")
    async def home(request: Request) -> Response:
        caller = await session_caller(request)
        if caller is None:
            return RedirectResponse(LOGIN, status_code=303)
        pages = visible_pages(caller.role)
        if not pages:
            return denied(caller, "Your role has no console pages.")
        return RedirectResponse(pages[0].path, status_code=303)

    @router.get(LOGIN)
    async def login(request: Request, tenant: str = "", error: str = "") -> Response:
        context = {"tenant": tenant[:128], "error": error[:200], "pages": [], "user": ""}
        return renderer.page("login.html", context)

    @router.get(LOGIN + "/start")
    async def start(request: Request, tenant: str = "") -> Response:
        """To the tenant's identity provider, and back to the console.

        The CSP's ``form-action 'self'`` also holds for redirects after a form, and the
        IdP is another origin: so htmx gets ``HX-Redirect`` (a navigation), and a
        browser without script gets a page with a link to follow."""
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
            if request.headers.get("hx-request") == "true":
                return Response(status_code=204, headers={"hx-redirect": back})
            return RedirectResponse(back, status_code=303)
        kind = "oidc" if "oidc" in kinds else "saml"
        target = f"/sso/{quote(name)}/{kind}/login?return_to=/console"
        if request.headers.get("hx-request") == "true":
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

    @router.get("/console/overview")
    async def overview_page(request: Request) -> Response:
        caller = await session_caller(request)
        if caller is None:
            return RedirectResponse(LOGIN, status_code=303)
        page = PAGES[0]
        try:
            callers.require(caller, page.permission)
        except PermissionDenied:
            return denied(caller, f"Your role may not see {page.title}.")
        p = caller.principal
        figures = await anyio.to_thread.run_sync(
            overview, runtime.engine, p.tenant_id, runtime.clock()
        )
        return renderer.page("overview.html", {**frame(caller, page), "o": figures})

    return router
