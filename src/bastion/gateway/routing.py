"""Route specs and the fast path that serves hot routes without per-request plumbing.

Every route is registered on the FastAPI app (so it is in the OpenAPI document and
behaves the same), and the hot ones are also served by :class:`FastPath`, a pure ASGI
dispatcher in front of the app that looks up ``(method, path)`` in a dict and calls the
same handler, skipping the middleware and dependency machinery a proxy does not use.
Security headers are added here, once, for every HTTP response; the internal-error
response is the same on both paths.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.errors import BastionError
from bastion.gateway.http import error_response

__all__ = ["FastPath", "Handler", "RouteSpec"]

log = logging.getLogger("bastion.gateway")

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    body_model: type[BaseModel] | None = field(default=None)


class FastPath:
    """Serve ``routes`` directly; hand every other request (and lifespan) to ``app``."""

    def __init__(
        self, app: ASGIApp, routes: Sequence[RouteSpec], headers: Callable[[Send], Send]
    ) -> None:
        self.app = app
        self._routes = {(r.method, r.path): r.handler for r in routes}
        self._headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            send = self._headers(send)  # every HTTP response, on either path
            handler = self._routes.get((scope["method"], scope["path"]))
            if handler is not None:
                request = Request(scope, receive)
                try:
                    response = await handler(request)
                except Exception as exc:
                    log.error("unhandled error on %s: %s", scope["path"], type(exc).__name__)
                    response = error_response(
                        BastionError("Internal error."),
                        anthropic=scope["path"].startswith("/v1/messages"),
                    )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
