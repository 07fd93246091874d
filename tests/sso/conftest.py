"""Fixtures for the SSO tests: a real OpenID Provider on loopback (``oidc_provider``),
an aiohttp session, a settable clock, and OIDC clients configured for that provider.

The provider needs Node and npm: the tests skip without them on a laptop and fail
under ``CI=true``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest

from bastion.sso.oidc import OidcClient
from bastion.sso.oidc_config import parse_oidc_config
from tests.conftest import need_service
from tests.sso.oidc_provider import OidcProvider, missing_programs


class Clock:
    """Wall-clock time plus an offset the test moves forward (no sleeping)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def require_node() -> None:
    missing = missing_programs()
    need_service(f"Node.js for the OIDC provider (missing: {', '.join(missing)})", not missing)


@pytest.fixture(scope="session")
def oidc_op() -> Iterator[OidcProvider]:
    """One provider for the session; tests that restart it start their own."""
    require_node()
    with OidcProvider() as provider:
        yield provider


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def clock() -> Clock:
    return Clock()


def oidc_table(op: OidcProvider, **overrides: Any) -> dict[str, Any]:
    """A ``[sso.oidc]`` table for ``op``'s client."""
    return {
        "issuer": op.issuer,
        "client_id": op.client_id,
        "client_secret_name": "test-idp",
        "scopes": ["openid", "email", "profile", "groups"],
        "api_audience": op.api_audience,
        "allow_insecure_loopback": True,
        **overrides,
    }


@pytest.fixture
def make_client(
    oidc_op: OidcProvider, http: aiohttp.ClientSession, clock: Clock
) -> Callable[..., OidcClient]:
    """``make_client(**table_overrides, op=..., refetch=...)``: an OidcClient for the
    session provider (or ``op``) sharing the test's session and clock."""

    def make(
        *, op: OidcProvider | None = None, refetch: float = 60.0, **overrides: Any
    ) -> OidcClient:
        provider = op or oidc_op
        config = parse_oidc_config(oidc_table(provider, **overrides))
        return OidcClient(
            config, provider.client_secret, http=http, clock=clock, jwks_refetch_seconds=refetch
        )

    return make
