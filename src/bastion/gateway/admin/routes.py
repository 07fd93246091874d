"""``/admin``: each route names the one permission it needs (:data:`ADMIN_ROUTES`, which
``docs/permissions.md`` lists and a test checks against every role).

Everything is scoped to the caller's own tenant: no route takes a tenant id. Rules
beyond the permission: only an owner (``roles.owner``) makes, changes or disables an
owner; the last enabled owner cannot be demoted or disabled; ``keys.own`` reaches only
the caller's own keys and sessions, ``keys.manage`` and ``sessions.manage`` everyone's.
Disabling a user or changing their role ends their sessions.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bastion.audit import verify_chain
from bastion.audit.export import export_jsonl
from bastion.authz import ROLES, allowed
from bastion.errors import BastionError, InvalidRequest, NotFound, PolicyUnavailable
from bastion.gateway.admin.attributes import attribute_handlers
from bastion.gateway.admin.audit import AdminAudit
from bastion.gateway.admin.models import (
    CallerOut,
    IssuedKeyOut,
    KeyOut,
    NewKey,
    NewUser,
    PolicyChange,
    PolicyText,
    RoleOut,
    SessionOut,
    TenantChange,
    TenantOut,
    UserOut,
    UserUpdate,
    VerifyOut,
)
from bastion.gateway.callers import Caller, Callers
from bastion.gateway.openapi import error_responses
from bastion.gateway.policies import PolicyStore
from bastion.gateway.tenant_policies import TenantPolicies
from bastion.identity.attributes import UserAttributes
from bastion.identity.directory import Directory
from bastion.identity.service import IdentityError, KeyInfo
from bastion.policy import PolicyError, parse_policy
from bastion.sessions import csrf_token

__all__ = ["ADMIN_ROUTES", "AdminDeps", "AdminRoute", "admin_router"]


@dataclass(frozen=True, slots=True)
class AdminRoute:
    method: str
    path: str
    permission: str | None  # None: any signed-in caller
    summary: str


ADMIN_ROUTES: tuple[AdminRoute, ...] = (
    AdminRoute("GET", "/admin/me", None, "Who am I: role, permissions, CSRF token"),
    AdminRoute("GET", "/admin/roles", "users.read", "Every role and its permissions"),
    AdminRoute("GET", "/admin/tenant", "users.read", "The tenant and its policy"),
    AdminRoute("PATCH", "/admin/tenant", "tenant.manage", "Rename the tenant"),
    AdminRoute("PUT", "/admin/tenant/policy", "policies.write", "Run the tenant under a policy"),
    AdminRoute("GET", "/admin/policy", "policies.read", "The tenant's policy, resolved"),
    AdminRoute("PUT", "/admin/policy", "policies.write", "Write the tenant's own policy"),
    AdminRoute("GET", "/admin/users", "users.read", "The tenant's users"),
    AdminRoute("POST", "/admin/users", "users.manage", "Add a user"),
    AdminRoute("PATCH", "/admin/users/{user_id}", "users.manage", "Change a role, disable"),
    AdminRoute("GET", "/admin/users/{user_id}/attributes", "users.read", "A user's attributes"),
    AdminRoute(
        "PUT", "/admin/users/{user_id}/attributes", "users.manage", "Set a user's attributes"
    ),
    AdminRoute("GET", "/admin/keys", "keys.own", "API keys (one's own; all with keys.manage)"),
    AdminRoute("POST", "/admin/keys", "keys.own", "Create an API key"),
    AdminRoute("DELETE", "/admin/keys/{key_id}", "keys.own", "Revoke an API key"),
    AdminRoute("GET", "/admin/sessions", "sessions.own", "Open sessions (all: sessions.manage)"),
    AdminRoute("DELETE", "/admin/sessions/{session_id}", "sessions.own", "End a session"),
    AdminRoute("GET", "/admin/audit/verify", "audit.verify", "Verify the audit chain"),
    AdminRoute("GET", "/admin/audit/export", "audit.export", "Export the audit log (JSONL)"),
)


class NdjsonResponse(Response):
    media_type = "application/x-ndjson"


_ADMIN_ERRORS = {
    "400": "Invalid body or value (code invalid_request)",
    "401": "Not authenticated (invalid_api_key, invalid_session)",
    "403": "The role lacks the permission (permission_denied), a recent sign-in is "
    "needed (step_up_required), or the CSRF token is missing (csrf_failed)",
    "404": "No such user, key or session in this tenant",
    "500": "The tenant's policy could not be loaded (policy_unavailable)",
    "503": "The change could not be recorded in the audit log (audit_unavailable)",
}


def _route(request: Request) -> str:
    """``METHOD /path/{param}``: the route's template, not the ids in the URL."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


def _key(k: KeyInfo, now: datetime) -> KeyOut:
    return KeyOut(
        id=k.id,
        prefix=k.prefix,
        name=k.name,
        user_email=k.user_email,
        role=k.role,
        created_at=k.created_at,
        expires_at=k.expires_at,
        revoked_at=k.revoked_at,
        status=k.status(now),
    )


def _user(u: Any) -> UserOut:
    return UserOut(
        id=u.id, email=u.email, role=u.role, disabled=u.disabled, created_at=u.created_at
    )


@dataclass(frozen=True, slots=True)
class AdminDeps:
    """What the admin routes use."""

    callers: Callers
    directory: Directory
    policies: PolicyStore
    clock: Callable[[], datetime]
    audit: Callable[[str], tuple[Any, Any]]  # tenant id -> (engine, sealer)
    forget_keys: Callable[[], None]  # drop this process's cache of verified keys
    audit_log: AdminAudit
    tenant_policies: TenantPolicies
    attributes: UserAttributes


class _Admin:
    """The handlers, closed over the services they use."""

    def __init__(self, deps: AdminDeps) -> None:
        self.forget_keys = deps.forget_keys
        self.audit_log = deps.audit_log
        self.callers = deps.callers
        self.directory = deps.directory
        self.policies = deps.policies
        self.clock = deps.clock
        self.audit = deps.audit
        self.tenant_policies = deps.tenant_policies

    def guard(self, permission: str | None) -> Callable[[Request], Awaitable[None]]:
        """The route's dependency: authenticate and check the permission before FastAPI
        reads the body (so an anonymous or unauthorised caller learns nothing from
        validation errors)."""

        async def check(request: Request) -> None:
            request.state.caller = await self.enter(request, permission)

        return check

    async def enter(self, request: Request, permission: str | None) -> Caller:
        caller = getattr(request.state, "caller", None)
        if not isinstance(caller, Caller):
            caller = await self.callers.identify(request)
        if permission is not None:
            await self.require(request, caller, permission)
        return caller

    async def require(self, request: Request, caller: Caller, permission: str) -> None:
        """The permission check, a refusal recorded in the audit log."""
        try:
            self.callers.require(caller, permission)
        except BastionError as exc:
            await self.audit_log.record(
                caller, _route(request), self.clock(), action=permission, error_code=exc.code
            )
            raise

    async def changed(
        self,
        request: Request,
        caller: Caller,
        action: str,
        target: str,
        changes: dict[str, Any] | None = None,
    ) -> None:
        await self.audit_log.record(
            caller, _route(request), self.clock(), action=action, target=target, changes=changes
        )

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
        except IdentityError as exc:
            message = str(exc)
            if message.startswith("no such"):
                raise NotFound(message[0].upper() + message[1:] + ".") from None
            raise InvalidRequest(message[0].upper() + message[1:] + ".") from None

    # -- who, roles, tenant, policy -------------------------------------------------
    async def me(self, request: Request) -> CallerOut:
        caller = await self.enter(request, None)
        p, session = caller.principal, caller.session
        return CallerOut(
            tenant=p.tenant_name,
            user_id=p.user_id,
            email=p.user_email,
            role=caller.role,
            permissions=sorted(ROLES.get(caller.role, ())),
            via="session" if session else "key",
            csrf_token=csrf_token(caller.cookie) if session else None,
            authenticated_at=session.authenticated_at if session else None,
            expires_at=session.expires_at if session else p.key_expires_at,
        )

    async def roles(self, request: Request) -> list[RoleOut]:
        await self.enter(request, "users.read")
        return [RoleOut(name=name, permissions=sorted(grants)) for name, grants in ROLES.items()]

    async def tenant(self, request: Request) -> TenantOut:
        caller = await self.enter(request, "users.read")
        tenant_id = caller.principal.tenant_id
        name, policy = await self.run(self.directory.tenant, tenant_id)
        return TenantOut(id=tenant_id, name=name, policy=policy)

    async def rename(self, request: Request, body: TenantChange) -> TenantOut:
        caller = await self.enter(request, "tenant.manage")
        tenant_id = caller.principal.tenant_id
        await self.run(self.directory.rename_tenant, tenant_id, body.name)
        await self.changed(request, caller, "tenant.rename", tenant_id, {"name": body.name})
        name, policy = await self.run(self.directory.tenant, tenant_id)
        return TenantOut(id=tenant_id, name=name, policy=policy)

    async def set_policy(self, request: Request, body: PolicyChange) -> TenantOut:
        caller = await self.enter(request, "policies.write")
        try:
            self.policies.get(body.policy)
        except PolicyUnavailable:
            raise InvalidRequest(
                "No valid policy by that name: check it with bastion scan --policy FILE.",
                param="policy",
            ) from None
        tenant_id = caller.principal.tenant_id
        await self.run(self.directory.set_policy, tenant_id, body.policy)
        await self.changed(request, caller, "tenant.policy", tenant_id, {"policy": body.policy})
        name, policy = await self.run(self.directory.tenant, tenant_id)
        return TenantOut(id=tenant_id, name=name, policy=policy)

    async def write_policy(self, request: Request, body: PolicyText) -> TenantOut:
        caller = await self.enter(request, "policies.write")
        tenant_id = caller.principal.tenant_id
        try:
            self.policies.check(parse_policy(body.toml, "tenant", "the policy"))
        except (PolicyError, ValueError) as exc:
            raise InvalidRequest(f"Invalid policy: {str(exc)[:300]}", param="toml") from None
        name = await self.run(
            self.tenant_policies.write, tenant_id, body.toml, caller.principal.user_id, self.clock()
        )
        self.forget_keys()  # cached principals still name the previous policy
        digest = hashlib.sha256(body.toml.encode()).hexdigest()
        await self.changed(
            request, caller, "policy.write", tenant_id, {"policy": name, "sha256": digest}
        )
        tenant_name, policy = await self.run(self.directory.tenant, tenant_id)
        return TenantOut(id=tenant_id, name=tenant_name, policy=policy)

    async def policy(self, request: Request) -> dict[str, Any]:
        caller = await self.enter(request, "policies.read")
        resolved = self.policies.get(caller.principal.policy)
        return resolved.policy.model_dump(mode="json")

    # -- users ------------------------------------------------------------------------
    async def users(self, request: Request) -> list[UserOut]:
        caller = await self.enter(request, "users.read")
        return [_user(u) for u in await self.run(self.directory.users, caller.principal.tenant_id)]

    async def add_user(self, request: Request, body: NewUser) -> UserOut:
        caller = await self.enter(request, "users.manage")
        if body.role == "owner":
            await self.require(request, caller, "roles.owner")
        tenant_id = caller.principal.tenant_id
        made = await self.run(
            self.directory.add_user, tenant_id, body.email, body.role, self.clock()
        )
        await self.changed(request, caller, "user.add", made.id, {"role": made.role})
        return _user(made)

    async def update_user(self, request: Request, user_id: str, body: UserUpdate) -> UserOut:
        caller = await self.enter(request, "users.manage")
        tenant_id = caller.principal.tenant_id
        current = await self.run(self.directory.user, tenant_id, user_id)
        if current.role == "owner" or body.role == "owner":
            await self.require(request, caller, "roles.owner")
        demoted = body.role is not None and body.role != "owner"
        losing_owner = current.role == "owner" and (demoted or body.disabled)
        if losing_owner and await self.run(self.directory.owners, tenant_id) <= 1:
            raise InvalidRequest("The tenant's last owner cannot be demoted or disabled.")
        updated = await self.run(
            self.directory.update_user, tenant_id, user_id, role=body.role, disabled=body.disabled
        )
        if updated.role != current.role or updated.disabled:
            await self.run(self.callers.sessions.revoke_user, tenant_id, user_id)
            self.forget_keys()
        changes = body.model_dump(exclude_none=True)
        await self.changed(request, caller, "user.update", user_id, changes)
        return _user(updated)

    # -- keys --------------------------------------------------------------------------
    async def keys(self, request: Request) -> list[KeyOut]:
        caller = await self.enter(request, "keys.own")
        p = caller.principal
        everyone = allowed(caller.role, "keys.manage")
        found = await self.run(self.directory.keys, p.tenant_id, None if everyone else p.user_id)
        now = self.clock()
        return [_key(k, now) for k in found]

    async def create_key(self, request: Request, body: NewKey) -> IssuedKeyOut:
        caller = await self.enter(request, "keys.own")
        p = caller.principal
        user_id = body.user_id or p.user_id
        if user_id != p.user_id:
            await self.require(request, caller, "keys.manage")
        now = self.clock()
        expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
        issued = await self.run(
            self.directory.create_key, p.tenant_id, user_id, now, name=body.name, expires_at=expires
        )
        await self.changed(request, caller, "key.create", issued.id, {"user_id": user_id})
        return IssuedKeyOut(
            id=issued.id, prefix=issued.prefix, key=issued.secret, user_email=issued.user_email
        )

    async def revoke_key(self, request: Request, key_id: str) -> KeyOut:
        caller = await self.enter(request, "keys.own")
        p = caller.principal
        owner = await self.run(self.directory.key_owner, p.tenant_id, key_id)
        if owner != p.user_id:
            await self.require(request, caller, "keys.manage")
        k = await self.run(self.directory.revoke_key, p.tenant_id, key_id, self.clock())
        self.forget_keys()
        await self.changed(request, caller, "key.revoke", key_id)
        return _key(k, self.clock())

    # -- sessions ----------------------------------------------------------------------
    async def sessions(self, request: Request) -> list[SessionOut]:
        caller = await self.enter(request, "sessions.own")
        p = caller.principal
        everyone = allowed(caller.role, "sessions.manage")
        rows = await self.run(
            self.callers.sessions.open_sessions, p.tenant_id, None if everyone else p.user_id
        )
        return [SessionOut(**row) for row in rows]

    async def end_session(self, request: Request, session_id: str) -> Response:
        caller = await self.enter(request, "sessions.own")
        p = caller.principal
        everyone = allowed(caller.role, "sessions.manage")
        mine = await self.run(self.callers.sessions.open_sessions, p.tenant_id, p.user_id)
        if not everyone and session_id not in {row["id"] for row in mine}:
            raise NotFound("No such open session.")
        if not await self.run(self.callers.sessions.revoke, p.tenant_id, session_id):
            raise NotFound("No such open session.")
        await self.changed(request, caller, "session.end", session_id)
        return Response(status_code=204)

    # -- audit ---------------------------------------------------------------------------
    async def verify(self, request: Request) -> VerifyOut:
        caller = await self.enter(request, "audit.verify")
        tenant_id = caller.principal.tenant_id
        engine, sealer = self.audit(tenant_id)
        report = await self.run(verify_chain, engine, tenant_id, sealer=sealer)
        mine = report.tenants.get(tenant_id)
        if mine is None:
            return VerifyOut(ok=True, records=0)
        return VerifyOut(ok=mine.ok, records=mine.count, problem=mine.problem)

    async def export(self, request: Request) -> Response:
        caller = await self.enter(request, "audit.export")
        tenant_id = caller.principal.tenant_id
        engine, sealer = self.audit(tenant_id)
        out = io.StringIO()
        await self.run(export_jsonl, engine, out, tenant_id, sealer=sealer)
        await self.changed(request, caller, "audit.export", tenant_id)
        return NdjsonResponse(out.getvalue())


def admin_router(deps: AdminDeps) -> APIRouter:
    admin = _Admin(deps)
    handlers: dict[tuple[str, str], tuple[Callable[..., Awaitable[Any]], Any, int]] = {
        ("GET", "/admin/me"): (admin.me, CallerOut, 200),
        ("GET", "/admin/roles"): (admin.roles, list[RoleOut], 200),
        ("GET", "/admin/tenant"): (admin.tenant, TenantOut, 200),
        ("PATCH", "/admin/tenant"): (admin.rename, TenantOut, 200),
        ("PUT", "/admin/tenant/policy"): (admin.set_policy, TenantOut, 200),
        ("GET", "/admin/policy"): (admin.policy, dict[str, Any], 200),
        ("PUT", "/admin/policy"): (admin.write_policy, TenantOut, 200),
        ("GET", "/admin/users"): (admin.users, list[UserOut], 200),
        ("POST", "/admin/users"): (admin.add_user, UserOut, 201),
        ("PATCH", "/admin/users/{user_id}"): (admin.update_user, UserOut, 200),
        ("GET", "/admin/keys"): (admin.keys, list[KeyOut], 200),
        ("POST", "/admin/keys"): (admin.create_key, IssuedKeyOut, 201),
        ("DELETE", "/admin/keys/{key_id}"): (admin.revoke_key, KeyOut, 200),
        ("GET", "/admin/sessions"): (admin.sessions, list[SessionOut], 200),
        ("DELETE", "/admin/sessions/{session_id}"): (admin.end_session, None, 204),
        ("GET", "/admin/audit/verify"): (admin.verify, VerifyOut, 200),
        ("GET", "/admin/audit/export"): (admin.export, None, 200),
        **attribute_handlers(admin, deps.attributes),
    }
    router = APIRouter(tags=["admin"])
    for route in ADMIN_ROUTES:
        handler, model, status = handlers[(route.method, route.path)]
        export = route.path == "/admin/audit/export"
        router.add_api_route(
            route.path,
            handler,
            methods=[route.method],
            response_model=model,
            status_code=status,
            summary=route.summary,
            dependencies=[Depends(admin.guard(route.permission))],
            description=f"Needs the `{route.permission}` permission."
            if route.permission
            else "Any signed-in caller.",
            responses=error_responses(_ADMIN_ERRORS),
            response_class=NdjsonResponse if export else JSONResponse,
        )
    return router
