"""``/admin/users/{user_id}/attributes``: the attributes data-source row filters bind.

Reading needs ``users.read``, replacing them ``users.manage`` (an owner's, also
``roles.owner``: attributes can widen what a row filter lets through). The rules are
:func:`bastion.identity.attributes.validate`'s; reserved names (``user_id``,
``user_email``, ``role``) are refused. Each change is one ``admin_change`` audit record
naming the keys set and removed, not their values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from bastion.errors import InvalidRequest, NotFound
from bastion.identity.attributes import InvalidAttributes, UnknownUser, UserAttributes

if TYPE_CHECKING:
    from bastion.gateway.admin.routes import _Admin

__all__ = ["AttributesIn", "AttributesOut", "attribute_handlers"]

PATH = "/admin/users/{user_id}/attributes"


class AttributesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    attributes: dict[str, Any] = Field(
        description="Replaces every attribute: name = string (lowercase name, at most 32 "
        "of them, values up to 256 characters; user_id, user_email and role are reserved)."
    )


class AttributesOut(BaseModel):
    user_id: str
    attributes: dict[str, str]


Handler = Callable[..., Awaitable[Any]]


def attribute_handlers(
    admin: _Admin, store: UserAttributes
) -> dict[tuple[str, str], tuple[Handler, Any, int]]:
    """The two routes' handlers, keyed like ``admin_router``'s table."""

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except UnknownUser:
            raise NotFound("No such user.") from None
        except InvalidAttributes as exc:
            raise InvalidRequest(
                f"Invalid attributes: {str(exc)[:300]}.", param="attributes"
            ) from None

    async def read(request: Request, user_id: str) -> AttributesOut:
        caller = await admin.enter(request, "users.read")
        found = await run(store.get, caller.principal.tenant_id, user_id)
        return AttributesOut(user_id=user_id, attributes=found)

    async def replace(request: Request, user_id: str, body: AttributesIn) -> AttributesOut:
        caller = await admin.enter(request, "users.manage")
        tenant_id = caller.principal.tenant_id
        target = await admin.run(admin.directory.user, tenant_id, user_id)
        if target.role == "owner":
            await admin.require(request, caller, "roles.owner")
        before = await run(store.get, tenant_id, user_id)
        after = await run(store.set, tenant_id, user_id, body.attributes)
        changed = sorted(k for k in after if before.get(k) != after[k])
        removed = sorted(set(before) - set(after))
        await admin.changed(
            request, caller, "user.attributes", user_id, {"set": changed, "removed": removed}
        )
        return AttributesOut(user_id=user_id, attributes=after)

    return {("GET", PATH): (read, AttributesOut, 200), ("PUT", PATH): (replace, AttributesOut, 200)}
