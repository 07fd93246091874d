"""The GitHub preset (OAuth 2.0, no ID token) against a loopback fake of GitHub's OAuth
and REST endpoints."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import web

from bastion.sso.oidc import OidcClient
from bastion.sso.oidc_config import parse_oidc_config
from bastion.testing._loopback import serve_in_thread
from tests.sso.test_oidc import _Raises

# --- GitHub (OAuth 2.0, no ID token) against a loopback fake ----------------------


async def test_github_preset_against_a_fake_github(http: aiohttp.ClientSession) -> None:
    """Code flow with PKCE at the configured endpoints; the numeric id, the primary
    verified email and org/team groups; a spent or unknown code is refused."""
    github = FakeGitHub()
    with serve_in_thread(github.app) as base_url:
        github.base_url = base_url
        config = parse_oidc_config(
            {
                "preset": "github",
                "client_id": github.client_id,
                "client_secret_name": "github",
                "authorization_endpoint": f"{github.base_url}/login/oauth/authorize",
                "token_endpoint": f"{github.base_url}/login/oauth/access_token",
                "api_url": f"{github.base_url}/api/v3",
                "allow_insecure_loopback": True,
            }
        )
        client = OidcClient(config, github.client_secret, http=http)
        redirect_uri = "http://127.0.0.1:9/sso/github"
        start = await client.begin(redirect_uri)
        params = await follow(http, start.url)

        identity = await client.complete(
            params, state=start.state, nonce=start.nonce, code_verifier=start.code_verifier,
            redirect_uri=redirect_uri,
        )  # fmt: skip
        assert (identity.idp, identity.subject) == ("github", "4242")
        assert identity.email == "octo@example.com"
        assert identity.groups == ("acme/platform", "acme/security")
        assert identity.attributes["login"] == ("octocat",)
        with _Raises("token_rejected"):
            await client.complete(
                params, state=start.state, nonce=start.nonce,
                code_verifier=start.code_verifier, redirect_uri=redirect_uri,
            )  # fmt: skip

        github.primary_verified = False
        start = await client.begin(redirect_uri)
        params = await follow(http, start.url)
        with _Raises("unverified_email"):
            await client.complete(
                params, state=start.state, nonce=start.nonce,
                code_verifier=start.code_verifier, redirect_uri=redirect_uri,
            )  # fmt: skip


async def follow(http: aiohttp.ClientSession, url: str) -> dict[str, str]:
    """The query of the redirect that ``url`` answers with."""
    async with http.get(url, allow_redirects=False) as response:
        return dict(parse_qsl(urlsplit(response.headers["location"]).query))


@dataclass
class FakeGitHub:
    """GitHub's OAuth authorize and token endpoints and the three REST calls Bastion
    makes, as GitHub answers them (a bad code is HTTP 200 with an ``error``)."""

    client_id: str = "Iv1.fakegithubclient"
    client_secret: str = "fake-github-secret"
    base_url: str = ""
    primary_verified: bool = True
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/login/oauth/authorize", self.authorize)
        app.router.add_post("/login/oauth/access_token", self.token)
        app.router.add_get("/api/v3/user", self.api)
        app.router.add_get("/api/v3/user/emails", self.api)
        app.router.add_get("/api/v3/user/teams", self.api)
        return app

    async def authorize(self, request: web.Request) -> web.Response:
        query = request.query
        assert query["client_id"] == self.client_id and query["code_challenge_method"] == "S256"
        assert set(query["scope"].split()) == {"read:user", "user:email", "read:org"}
        code = secrets.token_urlsafe(16)
        self.codes[code] = (query["code_challenge"], query["redirect_uri"])
        raise web.HTTPFound(f"{query['redirect_uri']}?code={code}&state={query['state']}")

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        assert request.headers["Accept"] == "application/json"
        assert (form["client_id"], form["client_secret"]) == (self.client_id, self.client_secret)
        challenge, redirect_uri = self.codes.pop(str(form["code"]), ("", ""))
        digest = hashlib.sha256(str(form["code_verifier"]).encode()).digest()
        if (
            challenge != base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            or redirect_uri != form["redirect_uri"]
        ):
            return web.json_response({"error": "bad_verification_code"})
        token = f"gho_{secrets.token_urlsafe(24)}"
        self.tokens.add(token)
        return web.json_response({"access_token": token, "token_type": "bearer", "scope": ""})

    async def api(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return web.json_response({"message": "Bad credentials"}, status=401)
        body: Any = {
            "/api/v3/user": {"id": 4242, "login": "octocat", "name": "The Octocat"},
            "/api/v3/user/emails": [
                {"email": "old@example.com", "primary": False, "verified": True},
                {"email": "octo@example.com", "primary": True, "verified": self.primary_verified},
            ],
            "/api/v3/user/teams": [
                {"slug": "platform", "organization": {"login": "acme"}},
                {"slug": "security", "organization": {"login": "acme"}},
            ],
        }[request.path]
        return web.json_response(body)
