"""What every console page module shares: the caller's session, the page frame
(navigation, CSRF token), the permission check and the 403 page.

A page module exposes ``router(kit) -> APIRouter`` and lists its :class:`Page` in
``bastion.console.pages.PAGES``; ``bastion.console.routes`` includes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from bastion.authz import allowed
from bastion.console.pages import Page, visible_pages
from bastion.console.render import Renderer
from bastion.errors import AuthenticationFailed, BastionError, PermissionDenied
from bastion.gateway.callers import Caller, Callers
from bastion.gateway.runtime import Runtime
from bastion.sessions import csrf_token
from bastion.sessions.errors import SessionInvalid, StepUpRequired

__all__ = ["LOGIN", "ConsoleKit"]

LOGIN = "/console/login"


@dataclass(frozen=True, slots=True)
class ConsoleKit:
    runtime: Runtime
    callers: Callers
    renderer: Renderer
    secure: bool

    def __repr__(self) -> str:
        return "ConsoleKit()"

    async def session_caller(self, request: Request) -> Caller | None:
        """The signed-in browser session's caller; None without one (API keys do not
        open the console)."""
        try:
            caller = await self.callers.identify(request)
        except (AuthenticationFailed, SessionInvalid):
            return None
        return caller if caller.session is not None else None

    def frame(self, caller: Caller, page: Page | None) -> dict[str, Any]:
        p = caller.principal
        return {
            "user": p.user_email,
            "role": p.role,
            "tenant": p.tenant_name,
            "pages": visible_pages(p.role, self.capabilities()),
            "current": page.slug if page else "",
            "csrf": csrf_token(caller.cookie or ""),
        }

    def capabilities(self) -> frozenset[str]:
        """The optional capabilities this gateway has (``pages.CAPABILITIES``)."""
        rt = self.runtime
        have = {"actions": rt.actions is not None, "data_sources": rt.data_sources is not None}
        return frozenset(name for name, present in have.items() if present)

    def denied(self, caller: Caller, message: str) -> Response:
        context = {**self.frame(caller, None), "message": message}
        return self.renderer.page("denied.html", context, status=403)

    async def open_page(self, request: Request, page: Page) -> Caller | Response:
        """The caller allowed to see ``page``, or the response to send instead (to the
        sign-in, the 403 page, or, for a step-up permission and an old sign-in, a page
        asking to sign in again). Pages that show something to a stale sign-in use
        :meth:`open_page_stale`."""
        opened = await self.open_page_stale(request, page)
        if isinstance(opened, Response):
            return opened
        caller, step_up = opened
        if step_up:
            link = (step_up, "Sign in again")
            context = {**self.frame(caller, page), "message": "This page needs a recent "
                       "sign-in.", "link": link}  # fmt: skip
            return self.renderer.page("denied.html", context, status=403)
        return caller

    async def open_page_stale(self, request: Request, page: Page) -> tuple[Caller, str] | Response:
        """Like :meth:`open_page`, but a role that may see ``page`` with a sign-in too
        old for its step-up permission gets through with the step-up URL (else "")."""
        caller = await self.session_caller(request)
        if caller is None:
            return RedirectResponse(LOGIN, status_code=303)
        if page.needs and page.needs not in self.capabilities():
            message = f"{page.title} are not available on this gateway."
            context = {**self.frame(caller, None), "message": message, "heading": "Not here"}
            return self.renderer.page("denied.html", context, status=404)
        try:
            self.callers.require(caller, page.permission)
        except StepUpRequired:
            return caller, self.step_up_url(caller, page.path)
        except PermissionDenied:
            return self.denied(caller, f"Your role may not see {page.title}.")
        return caller, ""

    def render(self, name: str, caller: Caller, page: Page, **context: Any) -> Response:
        return self.renderer.page(name, {**self.frame(caller, page), **context})

    async def form(self, request: Request, max_bytes: int = 262_144) -> dict[str, str] | None:
        """An htmx or HTML form post (``application/x-www-form-urlencoded``), parsed with
        the standard library; None when it is too large or not a form. The last value
        of a repeated field wins."""
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip()
        if kind != "application/x-www-form-urlencoded":
            return None
        body = await request.body()
        if len(body) > max_bytes:
            return None
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
        except (UnicodeDecodeError, ValueError):
            return None
        return dict(pairs)

    async def form_or_refusal(
        self, request: Request, max_bytes: int = 262_144
    ) -> dict[str, str] | Response:
        """:meth:`form`, or the fragment refusing a body that is not one."""
        form = await self.form(request, max_bytes)
        if form is None:
            return self.fragment(
                f"Send a form, not larger than {max_bytes // 1024} KB.", code="invalid_request"
            )
        return form

    async def act_on_form(
        self, request: Request, permission: str, return_to: str, max_bytes: int
    ) -> tuple[Caller, dict[str, str]] | Response:
        """:meth:`act`, then :meth:`form_or_refusal`: the caller and the form, or the
        fragment to show instead."""
        caller = await self.act(request, permission, return_to)
        if isinstance(caller, Response):
            return caller
        form = await self.form_or_refusal(request, max_bytes)
        return form if isinstance(form, Response) else (caller, form)

    def callers_allowed(self, caller: Caller, permission: str) -> bool:
        """Whether the caller's role grants ``permission`` (to show or hide controls;
        the action itself checks again, with step-up)."""
        return allowed(caller.role, permission)

    def step_up_url(self, caller: Caller, return_to: str) -> str:
        """Where to sign in again (``step_up=1``: the IdP asks for the password anew),
        then come back to ``return_to`` (a console path)."""
        policy = self.runtime.policies.get(caller.principal.policy).policy
        kind = "oidc" if "oidc" in policy.sso else "saml"
        tenant = quote(caller.principal.tenant_name)
        return f"/sso/{tenant}/{kind}/login?step_up=1&return_to={quote(return_to)}"

    async def act(self, request: Request, permission: str, return_to: str) -> Caller | Response:
        """The caller of an htmx action that needs ``permission`` (CSRF checked), or the
        fragment to show instead: a sign-in link, a step-up link (``return_to``: the
        page to come back to), or the refusal. Fragments swap into the target with
        status 200 (htmx ignores error statuses), and say why in words; a role's refusal
        carries ``data-code="permission_denied"``, as the API's error code."""
        try:
            caller = await self.callers.identify(request)
        except (AuthenticationFailed, SessionInvalid):
            return self.fragment("Your session has ended.", link=(LOGIN, "Sign in again"))
        except BastionError as exc:  # CSRF, isolated: refused as the API would
            return self.fragment(exc.message)
        if caller.session is None:
            return self.fragment("Sign in to the console first.", link=(LOGIN, "Sign in"))
        try:
            self.callers.require(caller, permission)
        except StepUpRequired:
            url = self.step_up_url(caller, return_to)
            return self.fragment(
                "This needs a recent sign-in.", link=(url, "Sign in again"), code="step_up"
            )
        except PermissionDenied as exc:
            return self.fragment(exc.message, code=exc.code)
        return caller

    def fragment(
        self, message: str, *, link: tuple[str, str] | None = None, code: str = "refused"
    ) -> Response:
        context = {"message": message, "link": link, "code": code}
        return self.renderer.page("refusal.html", context)
