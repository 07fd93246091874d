"""Request and response bodies of the admin API (they make its OpenAPI document)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CallerOut",
    "IssuedKeyOut",
    "KeyOut",
    "NewKey",
    "NewUser",
    "PolicyChange",
    "PolicyText",
    "RoleOut",
    "SessionOut",
    "TenantChange",
    "TenantOut",
    "UserOut",
    "UserUpdate",
    "VerifyOut",
]

_EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,255}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NewUser(_In):
    email: str = Field(pattern=_EMAIL, max_length=320)
    role: str = Field(default="member", max_length=32)


class UserUpdate(_In):
    role: str | None = Field(default=None, max_length=32)
    disabled: bool | None = None


class NewKey(_In):
    name: str = Field(default="", max_length=128)
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)
    user_id: str | None = Field(
        default=None, max_length=36, description="Another user's key (needs keys.manage)."
    )


class TenantChange(_In):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        description="The tenant's new name (it appears in sign-in URLs: /sso/<name>/...).",
    )


class PolicyText(_In):
    toml: str = Field(
        max_length=262_144,
        description="The whole policy as TOML (the format of a policy file). Checked like "
        "`bastion scan --policy`; the tenant then runs under it as version N+1.",
    )


class PolicyChange(_In):
    policy: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class CallerOut(BaseModel):
    tenant: str
    user_id: str
    email: str
    role: str
    permissions: list[str]
    via: str = Field(description="key or session")
    csrf_token: str | None = Field(
        default=None, description="For a session: send it as X-CSRF-Token on writes."
    )
    authenticated_at: datetime | None = None
    expires_at: datetime | None = None


class RoleOut(BaseModel):
    name: str
    permissions: list[str]


class UserOut(BaseModel):
    id: str
    email: str
    role: str
    disabled: bool
    created_at: datetime


class KeyOut(BaseModel):
    id: str
    prefix: str
    name: str
    user_email: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    status: str


class IssuedKeyOut(BaseModel):
    id: str
    prefix: str
    key: str = Field(description="The secret, shown once; Bastion keeps only its hash.")
    user_email: str


class SessionOut(BaseModel):
    id: str
    user_id: str
    email: str
    method: str
    created_at: datetime
    authenticated_at: datetime
    last_seen_at: datetime
    expires_at: datetime


class TenantOut(BaseModel):
    id: str
    name: str
    policy: str


class VerifyOut(BaseModel):
    ok: bool
    records: int
    problem: str | None = None
