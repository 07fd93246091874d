"""``/sso/{tenant}/...``: sign-in with the tenant's identity provider, and sign-out.

| route | what |
|---|---|
| ``GET /sso/{tenant}/oidc/login`` | to the IdP (``return_to``: a path here; ``step_up=1``) |
| ``GET /sso/{tenant}/oidc/callback`` | back from the IdP: a session cookie, then ``return_to`` |
| ``GET /sso/{tenant}/saml/metadata`` | the service provider's metadata |
| ``GET /sso/{tenant}/saml/login`` | to the IdP (HTTP-Redirect binding) |
| ``POST /sso/{tenant}/saml/acs`` | the IdP's response (HTTP-POST binding) |
| ``POST /sso/logout`` | end the session (cookie and CSRF token) |

``step_up=1`` with a session cookie re-authenticates that session (same person only)
instead of making a new one. The binding cookie ``bastion_login`` (random, ten
minutes, path ``/sso/``) ties the callback to the browser that began the sign-in. Over
HTTPS it is ``SameSite=None; Secure``, since a SAML response arrives by a cross-site
POST; over plain HTTP (tests, loopback) it is ``SameSite=Lax``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bastion.errors import InvalidRequest
from bastion.gateway.callers import Callers
from bastion.gateway.http import read_body
from bastion.gateway.openapi import error_responses
from bastion.sessions import COOKIE_NAME, SessionInvalid
from bastion.sessions.cookies import clear_session_cookie, session_cookie
from bastion.sso.service import SignedIn, SsoService

__all__ = ["BINDING_COOKIE", "sso_router"]

BINDING_COOKIE = "bastion_login"
_MAX_SAML_POST = 512 * 1024


def _binding_cookie(value: str, *, secure: bool, clear: bool = False) -> str:
    same_site = "SameSite=None; Secure" if secure else "SameSite=Lax"
    age = 0 if clear else 600
    return f"{BINDING_COOKIE}={value}; Path=/sso/; Max-Age={age}; HttpOnly; {same_site}"


_REDIRECT: dict[int | str, dict[str, Any]] = {
    "302": {"description": "To the identity provider, or back to return_to"}
}
_SSO_ERRORS = error_responses(
    {
        "400": "Invalid request",
        "401": "The sign-in could not be completed (sign_in_failed), or no valid session",
        "404": "No such tenant, or it has no single sign-on",
        "500": "The tenant's policy could not be loaded",
        "503": "The sign-in could not be recorded (audit_unavailable)",
    }
)


def sso_router(service: SsoService, callers: Callers, *, secure: bool) -> APIRouter:
    router = APIRouter(tags=["sign-in"], responses={**_REDIRECT, **_SSO_ERRORS})

    async def step_up_of(request: Request, step_up: bool) -> str | None:
        if not step_up:
            return None
        cookie = request.cookies.get(COOKIE_NAME)
        if cookie is None:
            raise SessionInvalid()
        info = await anyio.to_thread.run_sync(
            callers.sessions.resolve, cookie, callers.session_policy
        )
        return info.id

    def to_idp(url: str, binding: str) -> Response:
        response = RedirectResponse(url, status_code=302)
        response.headers.append("set-cookie", _binding_cookie(binding, secure=secure))
        response.headers["cache-control"] = "no-store"
        return response

    def landed(signed_in: SignedIn) -> Response:
        response = RedirectResponse(signed_in.return_to, status_code=302)
        response.headers.append("set-cookie", _binding_cookie("", secure=secure, clear=True))
        if signed_in.session is not None:
            cookie = session_cookie(
                signed_in.session.cookie, signed_in.session.expires_at, secure=secure
            )
            response.headers.append("set-cookie", cookie)
        response.headers["cache-control"] = "no-store"
        return response

    @router.get("/sso/{tenant}/oidc/login", summary="Sign in with the tenant's OIDC provider")
    async def oidc_login(
        request: Request, tenant: str, return_to: str = "/", step_up: bool = False
    ) -> Response:
        url, binding = await service.begin_oidc(
            tenant, return_to, await step_up_of(request, step_up)
        )
        return to_idp(url, binding)

    @router.get("/sso/{tenant}/oidc/callback", summary="The OIDC provider's redirect back")
    async def oidc_callback(request: Request, tenant: str) -> Response:
        params = dict(request.query_params)
        binding = request.cookies.get(BINDING_COOKIE, "")
        route = "GET /sso/{tenant}/oidc/callback"
        return landed(await service.finish_oidc(tenant, params, binding, route))

    @router.get("/sso/{tenant}/saml/metadata", summary="SAML service provider metadata")
    async def saml_metadata(tenant: str) -> Response:
        tenant_id, policy = await service.tenant(tenant)
        provider = await service.saml(tenant_id, policy)
        xml = await anyio.to_thread.run_sync(provider.metadata)
        return Response(xml, media_type="application/samlmetadata+xml")

    @router.get("/sso/{tenant}/saml/login", summary="Sign in with the tenant's SAML IdP")
    async def saml_login(
        request: Request, tenant: str, return_to: str = "/", step_up: bool = False
    ) -> Response:
        url, binding = await service.begin_saml(
            tenant, return_to, await step_up_of(request, step_up)
        )
        return to_idp(url, binding)

    @router.post("/sso/{tenant}/saml/acs", summary="The SAML IdP's response (HTTP-POST)")
    async def saml_acs(request: Request, tenant: str) -> Response:
        body = await read_body(request, _MAX_SAML_POST)
        try:
            form = dict(parse_qsl(body.decode("ascii", errors="replace"), max_num_fields=8))
        except ValueError:
            raise InvalidRequest("Expected a SAMLResponse form.") from None
        binding = request.cookies.get(BINDING_COOKIE, "")
        route = "POST /sso/{tenant}/saml/acs"
        return landed(await service.finish_saml(tenant, form, binding, route))

    @router.post("/sso/logout", summary="End this browser session", status_code=204)
    async def logout(request: Request) -> Response:
        caller = await callers.identify(request)
        if caller.session is not None:
            await anyio.to_thread.run_sync(
                callers.sessions.revoke, caller.principal.tenant_id, caller.session.id
            )
        response = Response(status_code=204)
        response.headers.append("set-cookie", clear_session_cookie(secure=secure))
        return response

    return router
