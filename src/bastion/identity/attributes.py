"""Per-user attributes (``{"region": "EU"}``) that data-source row filters bind as
``:region``: set by an admin (``PUT /admin/users/{id}/attributes``) or from the
identity provider's claims at sign-in, never from a request a user makes.

They live in ``users.attributes`` as a JSON object. Rules (:func:`validate`): at most
:data:`MAX_KEYS` keys matching ``^[a-z][a-z0-9_]{0,31}$``, each value a string of at
most :data:`MAX_VALUE` characters (numbers and booleans are refused: ``"1"`` and ``1``
must not compare differently in a filter), and never a :data:`RESERVED` name: those
come from the gateway (:func:`caller_params`), so nobody can pose as another user or
role through an attribute. Errors (:class:`InvalidAttributes`) name the key, never a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from sqlalchemy import Engine, select, update

from bastion.store.schema import User
from bastion.store.tenancy import tenant_begin, tenant_connect

__all__ = [
    "MAX_KEYS",
    "MAX_VALUE",
    "RESERVED",
    "InvalidAttributes",
    "UnknownUser",
    "UserAttributes",
    "caller_params",
    "check_one",
    "validate",
]

MAX_KEYS = 32
MAX_VALUE = 256
RESERVED = frozenset({"user_id", "user_email", "role"})
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class InvalidAttributes(ValueError):
    """Attributes that break a rule; the message names the key, never the value."""


class UnknownUser(LookupError):
    """No such user in this tenant."""

    def __init__(self) -> None:
        super().__init__("no such user")


def validate(attributes: Mapping[str, object]) -> dict[str, str]:
    """``attributes`` as a plain dict if every rule holds; InvalidAttributes if not."""
    if not isinstance(attributes, Mapping):
        raise InvalidAttributes("attributes must be an object of name = string")
    if len(attributes) > MAX_KEYS:
        raise InvalidAttributes(f"at most {MAX_KEYS} attributes per user")
    checked: dict[str, str] = {}
    for key, value in attributes.items():
        check_one(key, value)
        checked[key] = str(value)
    return checked


def check_one(key: object, value: object) -> None:
    """InvalidAttributes unless ``key = value`` is a valid attribute."""
    if not isinstance(key, str) or not _KEY.match(key):
        shown = f"{key!r:.40}" if isinstance(key, str) else "a non-string key"
        raise InvalidAttributes(
            f"attribute name {shown} must be lowercase letters, digits and '_', "
            "starting with a letter, at most 32 characters"
        )
    if key in RESERVED:
        raise InvalidAttributes(
            f"attribute name {key!r} is reserved: the gateway sets it from the caller's identity"
        )
    if not isinstance(value, str):
        raise InvalidAttributes(f"attribute {key!r} must be a string (not a number or boolean)")
    if len(value) > MAX_VALUE:
        raise InvalidAttributes(f"attribute {key!r} is longer than {MAX_VALUE} characters")


def caller_params(
    attributes: Mapping[str, str], user_email: str | None, role: str
) -> dict[str, str]:
    """What row filters may bind for a caller: their stored attributes, then
    ``user_email`` and ``role`` from the gateway, which win over any stored key of the
    same name (``:user_id`` is added by :func:`~bastion.datasources.sources.guard_policy_for`)."""
    params = {k: v for k, v in attributes.items() if k not in RESERVED}
    if user_email is not None:
        params["user_email"] = user_email
    params["role"] = role
    return params


class UserAttributes:
    """The attributes of every tenant's users; each call is bound to one tenant."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __repr__(self) -> str:
        return "UserAttributes()"

    def get(self, tenant_id: str, user_id: str) -> dict[str, str]:
        """The user's attributes; {} when none are set. UnknownUser if no such user."""
        query = select(User.attributes).where(User.tenant_id == tenant_id, User.id == user_id)
        with tenant_connect(self._engine, tenant_id) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise UnknownUser()
        return _loads(row[0])

    def set(self, tenant_id: str, user_id: str, attributes: Mapping[str, str]) -> dict[str, str]:
        """Replace the user's attributes with ``attributes`` (validated)."""
        checked = validate(attributes)
        with tenant_begin(self._engine, tenant_id) as conn:
            done = conn.execute(
                update(User)
                .where(User.tenant_id == tenant_id, User.id == user_id)
                .values(attributes=_dumps(checked))
            )
        if done.rowcount != 1:
            raise UnknownUser()
        return checked

    def merge(
        self,
        tenant_id: str,
        user_id: str,
        attributes: Mapping[str, str],
        *,
        remove: Iterable[str] = (),
    ) -> dict[str, str]:
        """Set the keys in ``attributes`` (validated) and drop those in ``remove``,
        keeping the user's others (an IdP's update); the result must still hold at most
        :data:`MAX_KEYS` keys. Writes only when something changed."""
        updates = validate(attributes)
        dropped = frozenset(remove) - set(updates)
        with tenant_begin(self._engine, tenant_id) as conn:
            row = conn.execute(
                select(User.attributes)
                .where(User.tenant_id == tenant_id, User.id == user_id)
                .with_for_update()
            ).first()
            if row is None:
                raise UnknownUser()
            current = _loads(row[0])
            kept = {k: v for k, v in current.items() if k not in dropped}
            merged = validate({**kept, **updates})
            if merged != current:
                conn.execute(
                    update(User)
                    .where(User.tenant_id == tenant_id, User.id == user_id)
                    .values(attributes=_dumps(merged))
                )
        return merged


def _dumps(attributes: Mapping[str, str]) -> str | None:
    return json.dumps(dict(sorted(attributes.items())), ensure_ascii=False) if attributes else None


def _loads(stored: str | None) -> dict[str, str]:
    """The stored object; a value that is not one (written by hand) counts as none,
    and keys that break the rules are dropped: deny by default."""
    if not stored:
        return {}
    try:
        value = json.loads(stored)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for key, item in value.items():
        try:
            check_one(key, item)
        except InvalidAttributes:
            continue
        out[key] = item
    return out
