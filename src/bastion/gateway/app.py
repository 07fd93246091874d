"""The ASGI application: routes, error handlers and lifecycle over a :class:`Runtime`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from bastion import __version__
from bastion.console.routes import console_router, console_static
from bastion.errors import (
    AuthenticationFailed,
    BastionError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
)
from bastion.gateway.action_routes import action_router
from bastion.gateway.admin import AdminDeps, admin_router
from bastion.gateway.admin.audit import AdminAudit
from bastion.gateway.anthropic_routes import anthropic_routes
from bastion.gateway.assistant_routes import assistant_router
from bastion.gateway.callers import carries_credentials
from bastion.gateway.document_routes import DocumentServices, document_router
from bastion.gateway.feedback_routes import knowledge_router
from bastion.gateway.http import error_response, json_response
from bastion.gateway.incident_routes import incident_router
from bastion.gateway.metrics_route import metrics_router
from bastion.gateway.openai_routes import openai_routes
from bastion.gateway.openapi import (
    operation_extra,
    schema_components,
    without_validation_errors,
)
from bastion.gateway.routing import FastPath, RouteSpec
from bastion.gateway.runtime import Runtime
from bastion.gateway.security_headers import SecurityHeaders
from bastion.gateway.source_routes import SourceServices, source_router
from bastion.gateway.sso_routes import sso_router
from bastion.gateway.tenant_policies import TenantPolicies
from bastion.identity.attributes import UserAttributes
from bastion.identity.directory import Directory

__all__ = ["create_app"]

log = logging.getLogger("bastion.gateway")


def create_app(runtime: Runtime, *, hsts: bool = False) -> FastPath:
    """An ASGI app serving ``runtime``; ``hsts`` adds Strict-Transport-Security (TLS on).

    The FastAPI app holds every route (and the OpenAPI document); the hot routes are
    also served by the :class:`FastPath` in front of it.
    """

    callers, sso = runtime.callers, runtime.sso

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.aclose()

    app = FastAPI(
        title="Bastion",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    hsts_max_age = runtime.settings.hsts_max_age if hsts else None
    routes = [*openai_routes(runtime), *anthropic_routes(runtime)]
    for route in routes:
        app.add_api_route(
            route.path,
            _endpoint(route),
            methods=[route.method],
            openapi_extra=operation_extra(route.body_model, stream=route.body_model is not None),
            response_class=Response,
        )
    _add_components(app, [r.body_model for r in routes if r.body_model is not None])
    if runtime.data_sources is not None:
        app.include_router(
            source_router(
                SourceServices(
                    callers,
                    runtime.data_sources,
                    runtime.executor,
                    runtime.audit,
                    runtime.clock,
                    attributes=UserAttributes(runtime.engine),
                )
            )
        )
    if runtime.data_sources is not None and runtime.documents is not None:
        app.include_router(
            document_router(
                DocumentServices(
                    callers,
                    runtime.documents,
                    runtime.audit,
                    runtime.clock,
                    limiter=runtime.limiter,
                )
            )
        )
    app.include_router(knowledge_router(runtime))
    if runtime.assistant is not None:
        app.include_router(
            assistant_router(
                runtime.assistant, runtime.chat, callers, runtime.settings.max_body_bytes
            )
        )
    if runtime.actions is not None:
        app.include_router(
            action_router(
                runtime.actions,
                callers,
                lambda name: runtime.policies.get(name).actions,
                runtime.clock,
            )
        )
    app.include_router(incident_router(runtime.response, callers, runtime.gate.forget))
    secure = runtime.settings.public_url.startswith("https://") or hsts
    app.include_router(sso_router(sso, callers, secure=secure))
    app.mount("/console/static", console_static(), name="console-static")
    app.include_router(console_router(runtime, callers, secure=secure))
    app.include_router(
        admin_router(
            AdminDeps(
                callers=callers,
                directory=Directory(runtime.engine),
                policies=runtime.policies,
                clock=runtime.clock,
                audit=lambda _tenant: (runtime.engine, runtime.sealer),
                forget_keys=runtime.auth_cache.clear,
                audit_log=AdminAudit(runtime.audit),
                tenant_policies=TenantPolicies(runtime.engine),
                attributes=UserAttributes(runtime.engine),
            )
        )
    )

    app.include_router(metrics_router(runtime.metrics, runtime.settings.metrics_token))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        error: BastionError
        if exc.status_code == 404:
            error = NotFound("Unknown route.")
        elif exc.status_code == 405:
            error = MethodNotAllowed("Method not allowed on this route.")
        else:
            error = InvalidRequest("Bad request.")
            error.status = exc.status_code
        response = error_response(error, anthropic=request.url.path.startswith("/v1/messages"))
        for name, value in (exc.headers or {}).items():
            if name.lower() == "allow":
                response.headers["allow"] = value
        return response

    @app.exception_handler(BastionError)
    async def bastion_error(request: Request, exc: BastionError) -> Response:
        return error_response(exc, anthropic=request.url.path.startswith("/v1/messages"))

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> Response:
        if not carries_credentials(request) and request.url.path.startswith(_AUTHENTICATED):
            return error_response(AuthenticationFailed())  # judge no body before the caller
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        error = InvalidRequest(
            f"Invalid request: {where or 'body'}: {first.get('msg', 'invalid')}."
        )
        error.param = where or None
        return error_response(error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s: %s", request.url.path, type(exc).__name__)
        error = BastionError("Internal error.")
        return error_response(error, anthropic=request.url.path.startswith("/v1/messages"))

    return FastPath(app, routes, SecurityHeaders(hsts_max_age).wrap)


# Every route under these prefixes authenticates its caller; the body and path are
# validated first (FastAPI), so a caller without credentials is told 401 instead.
_AUTHENTICATED = ("/v1/", "/admin/")


def _add_components(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Put the hand-parsed bodies' schemas into the OpenAPI document's components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                schema_components(models)
            )
            app.openapi_schema = without_validation_errors(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _endpoint(route: RouteSpec) -> Callable[[Request], Awaitable[Response]]:
    handler = route.handler

    async def endpoint(request: Request) -> Response:
        return await handler(request)

    endpoint.__name__ = f"{route.method.lower()}_{route.path.strip('/').replace('/', '_')}"
    return endpoint
