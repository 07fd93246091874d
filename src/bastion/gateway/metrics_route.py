"""``GET /metrics``: the gateway's Prometheus metrics, behind a bearer token.

Deny by default: without ``metrics_token`` (``BASTION_METRICS_TOKEN``) the route does
not exist (404, as any unknown route). With it, a scrape must send ``Authorization:
Bearer <token>``; anything else is 401 in the API's error format. The token is
compared in constant time and never logged. Not in the OpenAPI document.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response

from bastion.errors import AuthenticationFailed
from bastion.observability import CONTENT_TYPE, GatewayMetrics

__all__ = ["metrics_router"]


def metrics_router(metrics: GatewayMetrics, token: SecretStr | None) -> APIRouter:
    """A router serving ``metrics`` to holders of ``token``; empty if there is none."""
    router = APIRouter()
    expected = token.get_secret_value().strip().encode() if token is not None else b""
    if not expected:
        return router  # no token, no route: 404 like any unknown path

    @router.get("/metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        if not hmac.compare_digest(_bearer(request), expected):
            raise AuthenticationFailed("Invalid or missing metrics token.")
        return Response(
            metrics.exposition(),
            media_type=CONTENT_TYPE,
            headers={"cache-control": "no-store"},
        )

    return router


def _bearer(request: Request) -> bytes:
    """The token of ``Authorization: Bearer <token>``, else empty (never a match)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return b""
    return value.strip().encode("utf-8", "surrogateescape")
