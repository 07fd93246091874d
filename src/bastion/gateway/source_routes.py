"""``/v1/sources``: data sources a person connects, shares and queries (issue 7).

Every route needs ``datasources.use`` and works only on the caller's own tenant. A
source's URL goes in once (``POST``) and never comes out. A query runs through the
query guard as the caller (their role's tables, columns and rows), then the read-only
executor; the answer carries the exact SQL that ran, so the numbers can be checked.
Every query, allowed or refused, is one audit record: source, tables, row count, the
SHA-256 of the model's SQL and the guard's reason; never the SQL text or the rows.

A PostgreSQL or MySQL source's host must be on the deployment's
``data_sources_allowed_hosts``: checked when it is connected (400) and again before
every query (the executor). Row filters bind the caller's stored attributes
(:class:`~bastion.identity.attributes.UserAttributes`) and ``user_email``, ``role`` and
``user_id`` from the gateway; a filter naming an attribute the caller lacks refuses
the query (``missing_attribute``), it is never dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from bastion.audit import AuditLog
from bastion.audit.decisions import record_decision
from bastion.datasources.executor import Executor, HostNotAllowed, QueryFailed
from bastion.datasources.queries import run_guarded
from bastion.datasources.sources import (
    DataSources,
    GranteeKind,
    ShareInfo,
    SourceError,
    SourceForbidden,
    SourceInfo,
    SourceNotFound,
)
from bastion.errors import BastionError, InvalidRequest, NotFound
from bastion.errors import PermissionDenied as Forbidden
from bastion.gateway.callers import Caller, Callers
from bastion.gateway.openapi import error_responses
from bastion.identity import Principal
from bastion.identity.attributes import UnknownUser, UserAttributes, caller_params

__all__ = ["SourceServices", "source_router"]

_ERRORS = error_responses(
    {
        "400": "Invalid body, URL or guard config (the message names the problem), or "
        "the query was refused by the guard (code query_refused)",
        "401": "Not authenticated",
        "403": "The role lacks datasources.use, only the owner may do this, or the "
        "source's host is no longer allowed (code host_not_allowed)",
        "404": "No such data source, or not one the caller may use; or no such share",
        "502": "The database failed, timed out or refused (code query_failed)",
        "503": "The query could not be recorded in the audit log",
    }
)


class NewSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=128)
    kind: Literal["postgres", "mysql", "sqlite", "documents"]
    url: str = Field(
        default="",
        max_length=2048,
        description="Stored sealed; never returned. Empty for a documents collection.",
    )
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="The guard config (see docs/data-access.md); empty for documents.",
    )


class Share(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["user", "role"]
    grantee: str = Field(max_length=64, description="A user id or a role name.")


class ShareOut(BaseModel):
    kind: GranteeKind
    grantee: str = Field(description="A user id or a role name.")
    created_at: datetime


class ShareList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ShareOut]


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(max_length=20_000)


class SourceOut(BaseModel):
    id: str
    name: str
    kind: str
    owner_user_id: str
    created_at: datetime


class QueryOut(BaseModel):
    sql: str = Field(description="The statement that ran: the guard's rewrite of the input.")
    tables: list[str]
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool


class LoginOut(BaseModel):
    superuser: bool | None = Field(description="The login (or db_role) may do anything.")
    can_write: bool | None = Field(description="It may write to an allow-listed table.")
    notes: list[str]


class QueryRefused(BastionError):
    status = 400
    code = "query_refused"
    error_type = "invalid_request_error"


class QueryFailedError(BastionError):
    status = 502
    code = "query_failed"
    error_type = "server_error"


class HostRefused(BastionError):
    status = 403
    code = "host_not_allowed"
    error_type = "permission_error"


class SourceServices:
    """``attributes``: the users' stored attributes row filters bind (None: none)."""

    def __init__(
        self,
        callers: Callers,
        sources: DataSources,
        executor: Executor,
        audit: AuditLog,
        clock: Callable[[], datetime],
        *,
        timeout_ms: int = 10_000,
        attributes: UserAttributes | None = None,
    ) -> None:
        self.callers = callers
        self.sources = sources
        self.executor = executor
        self.audit = audit
        self.clock = clock
        self.timeout_ms = timeout_ms
        self.attributes = attributes

    def __repr__(self) -> str:
        return "SourceServices()"


def _out(info: SourceInfo) -> SourceOut:
    return SourceOut(
        id=info.id,
        name=info.name,
        kind=info.kind,
        owner_user_id=info.owner_user_id,
        created_at=info.created_at,
    )


def source_router(services: SourceServices) -> APIRouter:
    router = APIRouter(tags=["data sources"], responses=_ERRORS)
    s = services

    async def caller(request: Request) -> Caller:
        return await s.callers.identify_for(request, "datasources.use")

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except SourceNotFound:
            raise NotFound("No such data source.") from None
        except SourceForbidden:
            raise Forbidden("Only the source's owner may do this.") from None
        except HostNotAllowed as exc:
            raise InvalidRequest(f"{str(exc)[:300]}.", param="url") from None
        except SourceError as exc:
            raise InvalidRequest(str(exc)[:300]) from None

    async def decided(
        c: Caller, route: str, outcome: str, work: Awaitable[Any], **extra: Any
    ) -> Any:
        """``work``'s result, after an audit record of the change or of its refusal."""
        try:
            done = await work
        except BastionError as exc:
            await _record(s, c, route, "source_change_refused", error_code=exc.code, **extra)
            raise
        await _record(s, c, route, outcome, **extra)
        return done

    async def connect_checked(p: Principal, body: NewSource) -> SourceInfo:
        await run(s.executor.check_host, body.kind, body.url)
        info: SourceInfo = await run(
            s.sources.connect, p.tenant_id, p.user_id, body.name, body.kind, body.url, body.config
        )
        return info

    @router.post("/v1/sources", status_code=201, response_model=SourceOut)
    async def connect(request: Request, body: NewSource) -> SourceOut:
        """Connect a database; the caller owns it, and nobody else sees it unshared."""
        c = await caller(request)
        info = await decided(
            c,
            "POST /v1/sources",
            "source_connected",
            connect_checked(c.principal, body),
            kind=body.kind,
        )
        return _out(info)

    @router.get("/v1/sources", response_model=list[SourceOut])
    async def listing(request: Request) -> list[SourceOut]:
        """The sources the caller owns or that are shared with them or their role."""
        c = await caller(request)
        p = c.principal
        return [_out(i) for i in await run(s.sources.visible, p.tenant_id, p.user_id, c.role)]

    @router.post("/v1/sources/{source_id}/shares", status_code=204)
    async def share(request: Request, source_id: str, body: Share) -> Response:
        """Share with a user or a role (the owner only)."""
        c = await caller(request)
        p = c.principal
        await decided(
            c,
            "POST /v1/sources/{source_id}/shares",
            "source_shared",
            run(s.sources.share, p.tenant_id, source_id, p.user_id, body.kind, body.grantee),
            source=source_id,
            grantee_kind=body.kind,
            grantee=body.grantee,
        )
        return Response(status_code=204)

    @router.get("/v1/sources/{source_id}/shares", response_model=ShareList)
    async def shares(request: Request, source_id: str) -> ShareList:
        """The source's shares, by kind then grantee (the owner only)."""
        c = await caller(request)
        p = c.principal
        found: list[ShareInfo] = await run(s.sources.shares, p.tenant_id, source_id, p.user_id)
        return ShareList(
            data=[ShareOut(kind=i.kind, grantee=i.grantee, created_at=i.created_at) for i in found]
        )

    async def withdrawn(p: Principal, source_id: str, kind: str, grantee: str) -> None:
        if not await run(s.sources.unshare, p.tenant_id, source_id, p.user_id, kind, grantee):
            raise NotFound("The data source is not shared with that user or role.")

    @router.delete("/v1/sources/{source_id}/shares/{kind}/{grantee}", status_code=204)
    async def unshare(
        request: Request,
        source_id: str,
        kind: GranteeKind,
        grantee: Annotated[str, PathParam(max_length=64, description="A user id or a role.")],
    ) -> Response:
        """Withdraw a share (the owner only); 404 when there is no such share."""
        c = await caller(request)
        await decided(
            c,
            "DELETE /v1/sources/{source_id}/shares/{kind}/{grantee}",
            "source_unshared",
            withdrawn(c.principal, source_id, kind, grantee),
            source=source_id,
            grantee_kind=kind,
            grantee=grantee,
        )
        return Response(status_code=204)

    @router.delete("/v1/sources/{source_id}", status_code=204)
    async def remove(request: Request, source_id: str) -> Response:
        """Delete a source and its shares (the owner only)."""
        c = await caller(request)
        p = c.principal
        await decided(
            c,
            "DELETE /v1/sources/{source_id}",
            "source_deleted",
            run(s.sources.delete, p.tenant_id, source_id, p.user_id),
            source=source_id,
        )
        return Response(status_code=204)

    @router.get("/v1/sources/{source_id}/login", response_model=LoginOut)
    async def login(request: Request, source_id: str) -> LoginOut:
        """How strong the source's database login is (the owner only): connect sources
        with a read-only login, or set ``db_role``; the guard is the first wall only."""
        c = await caller(request)
        p = c.principal
        source = await run(s.sources.get_for, p.tenant_id, source_id, p.user_id, c.role)
        if source.owner_user_id != p.user_id:
            raise Forbidden("Only the source's owner may do this.")
        if source.kind not in ("postgres", "mysql", "sqlite"):
            raise InvalidRequest("Not a database source.")
        try:
            report = await anyio.to_thread.run_sync(s.executor.login_privileges, source)
        except QueryFailed as exc:
            raise QueryFailedError(f"The database did not answer ({exc.code}).") from None
        return LoginOut(
            superuser=report.superuser, can_write=report.can_write, notes=list(report.notes)
        )

    @router.post("/v1/sources/{source_id}/query", response_model=QueryOut)
    async def query(request: Request, source_id: str, body: Query) -> QueryOut:
        """Run one SELECT as the caller: guarded, read-only, audited."""
        c = await caller(request)
        p = c.principal
        source = await run(s.sources.get_for, p.tenant_id, source_id, p.user_id, c.role)
        # Row filters see only what the gateway knows of the caller, never request
        # fields (a caller must not pick their own region): their stored attributes,
        # and :user_id, :user_email, :role from the gateway.
        stored = await _stored_attributes(s, p.tenant_id, p.user_id)
        params = caller_params(stored, p.user_email, c.role)
        outcome = await anyio.to_thread.run_sync(
            lambda: run_guarded(
                s.executor,
                source,
                body.sql,
                user_id=p.user_id,
                role=c.role,
                params=params,
                timeout_ms=s.timeout_ms,
            )
        )
        await _audit(s, c, outcome.outcome, outcome.access())
        if outcome.status == "refused":
            if outcome.guard == "missing_attribute":
                raise QueryRefused(
                    "The query was refused: this source's row filters need a user attribute "
                    "your account does not have (missing_attribute); ask an administrator."
                )
            raise QueryRefused(f"The query was refused by the guard ({outcome.guard}).")
        if outcome.result is None:
            if outcome.error == "host_not_allowed":
                raise HostRefused(
                    "The data source's host is not allowed by the gateway's "
                    "data_sources_allowed_hosts (BASTION_DATA_SOURCES_ALLOWED_HOSTS)."
                )
            raise QueryFailedError(f"The database did not answer the query ({outcome.error}).")
        result = outcome.result
        return QueryOut(
            sql=outcome.sql,
            tables=list(outcome.tables),
            columns=list(result.columns),
            rows=[list(row) for row in result.rows],
            row_count=result.row_count,
            truncated=result.truncated,
        )

    return router


async def _stored_attributes(s: SourceServices, tenant_id: str, user_id: str) -> dict[str, str]:
    if s.attributes is None:
        return {}
    try:
        return await anyio.to_thread.run_sync(s.attributes.get, tenant_id, user_id)
    except UnknownUser:
        return {}


async def _record(
    s: SourceServices,
    c: Caller,
    route: str,
    outcome: str,
    *,
    error_code: str | None = None,
    **extra: Any,
) -> None:
    """The audit record of a change to a source (never its URL or config)."""
    p = c.principal
    await record_decision(
        s.audit.append,
        ts=s.clock(),
        tenant_id=p.tenant_id,
        route=route,
        outcome=outcome,
        unavailable="The change could not be recorded.",
        user_id=p.user_id,
        key_id=p.key_id,
        session_id=p.session_id,
        error_code=error_code,
        extra=extra,
    )


async def _audit(s: SourceServices, c: Caller, outcome: str, access: dict[str, Any]) -> None:
    p = c.principal
    await record_decision(
        s.audit.append,
        ts=s.clock(),
        tenant_id=p.tenant_id,
        route="POST /v1/sources/{source_id}/query",
        outcome=outcome,
        unavailable="The query could not be recorded; it was not answered.",
        user_id=p.user_id,
        key_id=p.key_id,
        session_id=p.session_id,
        data_sources=[access],
    )
