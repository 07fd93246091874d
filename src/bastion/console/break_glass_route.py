"""``POST /console/login/break-glass``: the local admin sign-in, when the deployment
turned it on (``BASTION_CONSOLE_BREAK_GLASS``); see :mod:`bastion.console.break_glass`.

The form is same-origin only (its ``Origin`` must be this host: no session exists yet,
so there is no CSRF token to check), rate limited per tenant and email, answered with
one message for every failure, and audited whatever happens.
"""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from bastion.audit import AuditEvent
from bastion.console.break_glass import BreakGlass
from bastion.console.kit import LOGIN, ConsoleKit
from bastion.identity import IdentityError
from bastion.identity.directory import Directory
from bastion.secrets import DEPLOYMENT, SecretStore
from bastion.sessions.cookies import session_cookie

__all__ = ["router"]

RATE = "5/15 minutes"
ROUTE = "POST /console/login/break-glass"
ADMIN_ROLES = frozenset({"owner", "admin"})


def router(kit: ConsoleKit) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    rt = kit.runtime

    def failed(tenant: str) -> Response:
        context = {"tenant": tenant, "error": "Sign-in failed.", "pages": [], "user": ""}
        return kit.renderer.page("login.html", {**context, "break_glass": True}, status=401)

    async def record(tenant_id: str, user_id: str, email: str, outcome: str, why: str) -> None:
        await rt.audit.append(
            AuditEvent(
                ts=rt.clock(),
                request_id=uuid.uuid4().hex,
                tenant_id=tenant_id or DEPLOYMENT,
                user_id=user_id,
                key_id="",
                model="",
                route=ROUTE,
                outcome=outcome,
                error_code=why or None,
                extra={"email_sha256": hashlib.sha256(email.encode()).hexdigest()},
            )
        )

    def user_of(tenant_id: str, email: str) -> str | None:
        for user in Directory(rt.engine).users(tenant_id):
            if user.email == email and user.role in ADMIN_ROLES and not user.disabled:
                return user.id
        return None

    @api.post(LOGIN + "/break-glass")
    async def break_glass(request: Request) -> Response:
        if not rt.settings.console_break_glass or rt.keyring is None:
            return Response(status_code=404)
        origin = request.headers.get("origin", "")
        if not origin or urlsplit(origin).netloc != request.headers.get("host", ""):
            return Response("Cross-origin sign-in refused.", status_code=403)
        form = await kit.form(request, 8192) or {}
        tenant = form.get("tenant", "").strip()[:128]
        email = form.get("email", "").strip().lower()[:320]
        password = form.get("password", "")
        try:
            tenant_id = await anyio.to_thread.run_sync(rt.identity.tenant_id, tenant)
        except IdentityError:
            tenant_id = ""  # recorded in the deployment's chain
        if not await rt.limiter.hit(RATE, "console-break-glass", tenant, email):
            await record(tenant_id, "", email, "break_glass_refused", "rate_limited")
            return failed(tenant)
        if not tenant_id:
            await record("", "", email, "break_glass_refused", "unknown_tenant")
            return failed(tenant)
        store = BreakGlass(SecretStore(rt.engine, rt.keyring, rt.clock))
        ok = await anyio.to_thread.run_sync(store.check, tenant_id, email, password)
        user_id = await anyio.to_thread.run_sync(user_of, tenant_id, email) if ok else None
        if user_id is None:
            await record(tenant_id, "", email, "break_glass_refused", "bad_credentials")
            return failed(tenant)
        policy = await anyio.to_thread.run_sync(rt.identity.tenant_policy, tenant)
        issued = await anyio.to_thread.run_sync(
            rt.sessions.create,
            tenant_id,
            user_id,
            "break_glass",
            rt.clock(),
            kit.callers.session_policy(policy),
        )
        await record(tenant_id, user_id, email, "break_glass_login", "")
        response = RedirectResponse("/console", status_code=303)
        response.headers.append(
            "set-cookie", session_cookie(issued.cookie, issued.expires_at, secure=kit.secure)
        )
        return response

    return api
