"""``/console/keys``: API keys and browser sessions.

The same services and rules as ``/admin/keys`` and ``/admin/sessions``: ``keys.own``
lists, creates and revokes one's own keys, ``keys.manage`` every key of the tenant
(both need a recent sign-in through a session: ``authz.STEP_UP``); ``sessions.own``
lists and ends one's own sessions, ``sessions.manage`` everyone's. Every change and
every refusal of a permission is an ``admin_change`` / ``admin_denied`` record, as the
API writes them (ids only: never a key's secret). A new key's secret is in the one
answer to its creation (``Cache-Control: no-store``) and nowhere else. Revoking a key
drops the gateway's cache of verified keys, so the next API call with it is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from bastion.authz import allowed
from bastion.console.kit import LOGIN, ConsoleKit
from bastion.console.pages import page_named
from bastion.errors import BastionError, PermissionDenied
from bastion.gateway.admin.audit import AdminAudit
from bastion.gateway.admin.models import NewKey
from bastion.gateway.callers import Caller
from bastion.identity.directory import Directory
from bastion.identity.service import IdentityError, KeyInfo
from bastion.sessions import StepUpRequired

__all__ = ["router"]

_FORM_MAX = 4_096
_NO_STORE = {"cache-control": "no-store"}


def _new_key(form: dict[str, str]) -> NewKey | str:
    """The form as the API's body, or what is wrong with it (in words)."""
    days = form.get("expires_in_days", "").strip()
    try:
        expires = float(days) if days else None
    except ValueError:
        return "Expiry: a number of days, or empty for a key that does not expire."
    try:
        return NewKey(name=form.get("name", "").strip(), expires_in_days=expires)
    except ValidationError as exc:
        where = str(exc.errors()[0]["loc"][0]) if exc.errors() else ""
        if where == "name":
            return "Name: at most 128 characters."
        return "Expiry: more than 0 and at most 3650 days, or empty."


def _message(exc: IdentityError) -> str:
    text = str(exc)
    return text[:1].upper() + text[1:] + "."


def router(kit: ConsoleKit) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    page = page_named("keys")
    directory = Directory(kit.runtime.engine)
    audit = AdminAudit(kit.runtime.audit)
    sessions = kit.callers.sessions
    clock = kit.runtime.clock

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: fn(*args))

    async def refused(route: str, caller: Caller, permission: str, exc: BastionError) -> None:
        await audit.record(caller, route, clock(), action=permission, error_code=exc.code)

    async def acting(request: Request, route: str, permission: str) -> Caller | Response:
        """``kit.act``, and the API's record of a refused permission (a caller known,
        signed in, CSRF token right, but the role or the sign-in's age says no)."""
        outcome = await kit.act(request, permission, page.path)
        if isinstance(outcome, Response):
            try:
                caller = await kit.callers.identify(request)
            except BastionError:
                return outcome  # no caller to attribute it to (as the API)
            try:
                kit.callers.require(caller, permission)
            except BastionError as exc:
                if caller.session is not None:
                    await refused(route, caller, permission, exc)
        return outcome

    async def also_needs(route: str, caller: Caller, permission: str) -> Response | None:
        """The second permission another user's key or session needs (audited)."""
        try:
            kit.callers.require(caller, permission)
        except StepUpRequired as exc:
            await refused(route, caller, permission, exc)
            url = kit.step_up_url(caller, page.path)
            return kit.fragment(
                "This needs a recent sign-in.", link=(url, "Sign in again"), code="step_up"
            )
        except PermissionDenied as exc:
            await refused(route, caller, permission, exc)
            return kit.fragment(exc.message, code=exc.code)
        return None

    async def own_keys_table(caller: Caller) -> dict[str, Any]:
        p = caller.principal
        mine: list[KeyInfo] = await run(directory.keys, p.tenant_id, p.user_id)
        return {"keys": mine, "now": clock(), "table_id": "my-keys", "owner_column": False}

    @api.get(page.path)
    async def show(request: Request) -> Response:
        opened = await kit.open_page_stale(request, page)
        if isinstance(opened, Response):
            return opened
        caller, step_up = opened  # an old sign-in still sees its sessions
        p = caller.principal
        everyone = allowed(caller.role, "keys.manage")
        found: list[KeyInfo] = []
        if not step_up:
            found = await run(directory.keys, p.tenant_id, None if everyone else p.user_id)
        all_sessions = allowed(caller.role, "sessions.manage")
        open_rows = await run(
            sessions.open_sessions, p.tenant_id, None if all_sessions else p.user_id
        )
        return kit.render(
            "keys.html",
            caller,
            page,
            step_up=step_up,
            mine=[k for k in found if k.user_email == p.user_email],
            others=[k for k in found if k.user_email != p.user_email],
            manage=everyone,
            now=clock(),
            open_sessions=open_rows,
            all_sessions=all_sessions,
            this_session=caller.session.id if caller.session else "",
        )

    @api.post(page.path)
    async def create(request: Request) -> Response:
        route = "POST /console/keys"
        caller = await acting(request, route, "keys.own")
        if isinstance(caller, Response):
            return caller
        form = await kit.form(request, _FORM_MAX)
        body = _new_key(form) if form is not None else "The form is too large or not a form."
        if isinstance(body, str):
            return kit.fragment(body, code="invalid_request")
        p, now = caller.principal, clock()
        expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
        try:
            issued = await run(
                lambda: directory.create_key(
                    p.tenant_id, p.user_id, now, name=body.name, expires_at=expires
                )
            )
        except IdentityError as exc:
            return kit.fragment(_message(exc), code="invalid_request")
        changes = {"user_id": p.user_id}
        await audit.record(
            caller, route, now, action="key.create", target=issued.id, changes=changes
        )
        context = {"issued": issued, "name": body.name, **await own_keys_table(caller)}
        response = kit.renderer.page("keys_created.html", context)
        response.headers.update(_NO_STORE)
        return response

    @api.post(page.path + "/{key_id}/revoke")
    async def revoke(request: Request, key_id: str) -> Response:
        route = "POST /console/keys/{key_id}/revoke"
        caller = await acting(request, route, "keys.own")
        if isinstance(caller, Response):
            return caller
        p, key_id = caller.principal, key_id[:64]
        try:
            owner = await run(directory.key_owner, p.tenant_id, key_id)
        except IdentityError:
            return kit.fragment("No such key.")
        if owner != p.user_id:
            refusal = await also_needs(route, caller, "keys.manage")
            if refusal is not None:
                return refusal
        revoked: KeyInfo = await run(directory.revoke_key, p.tenant_id, key_id, clock())
        kit.runtime.auth_cache.clear()  # a cached verification would still let it in
        await audit.record(caller, route, clock(), action="key.revoke", target=key_id)
        return kit.renderer.page("keys_state.html", {"k": revoked, "now": clock()})

    @api.post(page.path + "/sessions/{session_id}/end")
    async def end_session(request: Request, session_id: str) -> Response:
        route = "POST /console/keys/sessions/{session_id}/end"
        caller = await acting(request, route, "sessions.own")
        if isinstance(caller, Response):
            return caller
        p, session_id = caller.principal, session_id[:64]
        mine = await run(sessions.open_sessions, p.tenant_id, p.user_id)
        everyone = allowed(caller.role, "sessions.manage")
        if not everyone and session_id not in {row["id"] for row in mine}:
            return kit.fragment("No such open session.")  # as the API: no oracle
        if not await run(sessions.revoke, p.tenant_id, session_id):
            return kit.fragment("No such open session.")
        await audit.record(caller, route, clock(), action="session.end", target=session_id)
        if caller.session is not None and session_id == caller.session.id:
            return Response(status_code=204, headers={"hx-redirect": LOGIN})
        return kit.renderer.page("keys_done.html", {"message": "Ended."})

    return api
