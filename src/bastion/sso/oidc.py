"""OpenID Connect (and GitHub's OAuth 2.0) sign-in as a relying party, and IdP bearer
tokens on the API.

One :class:`OidcClient` per tenant configuration::

    client = OidcClient(config, secret, http=session)
    start = await client.begin(redirect_uri)        # keep state, nonce, code_verifier
    ...redirect the browser to start.url; it comes back with ?code=...&state=...
    identity = await client.complete(query, state=..., nonce=..., code_verifier=...,
                                     redirect_uri=redirect_uri)
    identity = await client.verify_bearer(token)    # Authorization: Bearer <JWT>

The caller stores ``state``, ``nonce`` and ``code_verifier`` server-side (never in a
cookie the browser can read back unsigned), uses them once, and discards them.

Checks: discovery's issuer equals the configured one exactly; authorization code with
PKCE (S256), state (constant-time) and nonce; the RFC 9207 ``iss`` response parameter;
ID tokens and access tokens signed by a key of the IdP's JWKS with an asymmetric
algorithm of :data:`ALGORITHMS` (never ``none`` or HMAC); ``iss``, ``aud`` (and ``azp``),
``exp``, ``iat``, ``nbf`` with :data:`LEEWAY_SECONDS`; ``auth_time`` against
``max_age_minutes``; ``email_verified`` not false; the email domain allow-list. A token
with an unknown ``kid`` refetches the JWKS (key rotation), at most once per
``jwks_refetch_seconds``, so a flood of made-up kids cannot hammer the IdP.

Bearer tokens must be JWTs (RFC 9068 style) whose ``aud`` contains ``api_audience``;
opaque tokens are rejected (no introspection).

Every failure is an :class:`SsoError` with a fixed, safe message and an audit ``code``;
no message or repr contains a token, a claim value or the client secret.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson

# Authlib ships no type information; the one helper used returns a str.
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError
from joserfc.jws import extract_compact

from bastion.sso._jwks import Jwks
from bastion.sso.errors import MESSAGES, SsoError
from bastion.sso.identity import SsoIdentity
from bastion.sso.oidc_config import OidcConfig

__all__ = ["ALGORITHMS", "LEEWAY_SECONDS", "LoginStart", "OidcClient", "SsoError"]

# Asymmetric only. Ed25519 is RFC 9864's name for EdDSA over Ed25519; the older
# polymorphic "EdDSA" is left out: joserfc warns it is deprecated on every use.
ALGORITHMS = ("RS256", "PS256", "ES256", "Ed25519")
LEEWAY_SECONDS = 60
JWKS_REFETCH_SECONDS = 60.0
METADATA_TTL_SECONDS = 3600.0
BODY_LIMIT = 256 * 1024
_TIMEOUT = aiohttp.ClientTimeout(total=10)
_OAUTH_ERROR = re.compile(r"[a-z_]{1,40}")
_PROTOCOL_CLAIMS = frozenset(
    {"iss", "aud", "azp", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "s_hash",
     "jti", "sid", "auth_time", "acr", "amr", "cnf", "client_id", "scope"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LoginStart:
    """Where to send the browser, and what to keep server-side until it returns."""

    url: str = field(repr=False)
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)


class OidcClient:
    """The relying party for one tenant's IdP (see the module docstring). ``http`` is
    the caller's session (it owns its lifetime); ``clock`` returns epoch seconds."""

    def __init__(
        self,
        config: OidcConfig,
        client_secret: str,
        *,
        http: aiohttp.ClientSession,
        clock: Callable[[], float] = time.time,
        jwks_refetch_seconds: float = JWKS_REFETCH_SECONDS,
    ) -> None:
        self.config = config
        self._secret = client_secret
        self._http = http
        self._clock = clock
        self._metadata: tuple[float, Mapping[str, Any]] | None = None
        self._metadata_lock = asyncio.Lock()
        self._jwks = Jwks(self._fetch_jwks, clock, jwks_refetch_seconds)

    def __repr__(self) -> str:
        return f"OidcClient(idp={self.config.idp!r}, client_id={self.config.client_id!r})"

    async def metadata(self) -> Mapping[str, Any]:
        """The IdP's discovery document (cached for an hour). For the GitHub preset,
        the configured endpoints."""
        config = self.config
        if config.issuer is None:
            return {
                "authorization_endpoint": config.authorization_endpoint,
                "token_endpoint": config.token_endpoint,
            }
        async with self._metadata_lock:
            now = self._clock()
            if self._metadata and 0 <= now - self._metadata[0] < METADATA_TTL_SECONDS:
                return self._metadata[1]
            url = config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            doc = await self._get_json(url)
            if not isinstance(doc, dict) or not all(
                isinstance(doc.get(k), str) and self._url_ok(doc[k])
                for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")
            ):
                raise SsoError.of("idp_bad_response")
            if doc.get("issuer") != config.issuer:
                raise SsoError.of("wrong_issuer")
            self._metadata = (now, doc)
            return doc

    async def begin(self, redirect_uri: str, *, force: bool = False) -> LoginStart:
        """Start a sign-in: an authorization URL (code flow, S256 PKCE, fresh random
        state and nonce) and the values the caller must keep for :meth:`complete`.
        ``force`` (step-up) asks the IdP to authenticate the person again, not to reuse
        its own session (``prompt=login``, ``max_age=0``)."""
        meta = await self.metadata()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "code_challenge": str(create_s256_code_challenge(verifier)),
            "code_challenge_method": "S256",
        }
        if self.config.issuer is not None:
            params["nonce"] = nonce
        if self.config.max_age_minutes is not None:
            params["max_age"] = str(self.config.max_age_minutes * 60)
        if force:
            params["prompt"] = "login"
            params["max_age"] = "0"
        endpoint = str(meta["authorization_endpoint"])
        url = f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
        return LoginStart(url=url, state=state, nonce=nonce, code_verifier=verifier)

    async def complete(
        self,
        query_params: Mapping[str, str],
        *,
        state: str,
        nonce: str,
        code_verifier: str,
        redirect_uri: str,
    ) -> SsoIdentity:
        """Finish a sign-in from the redirect's query parameters and the values kept
        from :meth:`begin`. Each code works once: the IdP refuses a replay."""
        returned = query_params.get("state", "")
        if not state or not hmac.compare_digest(returned.encode(), state.encode()):
            raise SsoError.of("bad_state")
        meta = await self.metadata()
        iss_expected = "iss" in query_params or meta.get(
            "authorization_response_iss_parameter_supported"
        )
        if iss_expected and query_params.get("iss") != self.config.issuer:  # RFC 9207
            raise SsoError.of("wrong_issuer")
        if "error" in query_params:
            error = query_params["error"]
            detail = f" ({error})" if _OAUTH_ERROR.fullmatch(error) else ""
            raise SsoError.of("idp_error", MESSAGES["idp_error"] + detail)
        code = query_params.get("code")
        if not code:
            raise SsoError.of("bad_token")
        tokens = await self._exchange(code, code_verifier, redirect_uri)
        access_token = tokens.get("access_token")
        if self.config.issuer is None:
            if not isinstance(access_token, str) or not access_token:
                raise SsoError.of("idp_bad_response")
            return await self._github_identity(access_token)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SsoError.of("idp_bad_response")
        claims = await self.verify_id_token(id_token, nonce=nonce)
        if self.config.email_claim not in claims and isinstance(access_token, str):
            claims = await self._with_userinfo(claims, access_token)
        return self.identity(claims, email_required=True)

    async def verify_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The claims of a valid ID token for this client and ``nonce``."""
        meta = await self.metadata()
        claims = await self._verify_jwt(id_token, str(meta["jwks_uri"]), self.config.client_id)
        audience = claims["aud"]
        azp = claims.get("azp")
        if (isinstance(audience, list) and len(audience) > 1 and azp is None) or (
            azp is not None and azp != self.config.client_id
        ):
            raise SsoError.of("wrong_audience")
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not hmac.compare_digest(
            token_nonce.encode(), nonce.encode()
        ):
            raise SsoError.of("bad_nonce")
        if self.config.max_age_minutes is not None:
            auth_time = claims.get("auth_time")
            if not isinstance(auth_time, int | float) or isinstance(auth_time, bool):
                raise SsoError.of("stale_auth")
            age = self._clock() - auth_time
            if age > self.config.max_age_minutes * 60 + LEEWAY_SECONDS:
                raise SsoError.of("stale_auth")
        return claims

    async def verify_bearer(self, token: str) -> SsoIdentity:
        """The identity in an IdP access token presented to the API: a JWT signed by
        the IdP, ``aud`` containing ``api_audience``, unexpired. Opaque tokens fail."""
        audience = self.config.api_audience
        if audience is None or self.config.issuer is None:
            raise SsoError.of("bearer_disabled")
        if token.count(".") != 2:
            raise SsoError.of("bad_token")
        meta = await self.metadata()
        claims = await self._verify_jwt(token, str(meta["jwks_uri"]), audience)
        return self.identity(claims, email_required=False)

    def identity(self, claims: Mapping[str, Any], *, email_required: bool) -> SsoIdentity:
        """An :class:`SsoIdentity` from verified claims (ID token, userinfo, access
        token or GitHub's API), after the email checks."""
        config = self.config
        email = claims.get(config.email_claim)
        if email is not None and not isinstance(email, str):
            raise SsoError.of("idp_bad_response")
        verified = claims.get("email_verified")
        if verified is False or (isinstance(verified, str) and verified.lower() == "false"):
            raise SsoError.of("unverified_email")
        if email_required and not email:
            raise SsoError.of("no_email")
        if (email or config.allowed_domains) and not config.email_allowed(email or ""):
            raise SsoError.of("domain_not_allowed")
        when = claims.get("auth_time", claims.get("iat"))
        if not isinstance(when, int | float) or isinstance(when, bool):
            when = self._clock()
        name = claims.get("name")
        attributes = {
            key: _strings(value)
            for key, value in claims.items()
            if key not in _PROTOCOL_CLAIMS | {"sub", config.groups_claim} and _strings(value)
        }
        return SsoIdentity(
            idp=config.idp,
            subject=str(claims["sub"]),
            email=email or "",
            authenticated_at=datetime.fromtimestamp(when, UTC),
            name=name if isinstance(name, str) else "",
            groups=_strings(claims.get(config.groups_claim)),
            attributes=attributes,
            not_single=frozenset(k for k in attributes if not isinstance(claims[k], str)),
        )

    async def _github_identity(self, access_token: str) -> SsoIdentity:
        """GitHub (OAuth 2.0, no ID token): the numeric user id as subject, the primary
        verified email, and ``org/team`` slugs as groups (first 100 teams; needs the
        ``read:org`` scope, otherwise no groups)."""
        api = str(self.config.api_url).rstrip("/")
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        user = await self._get_json(f"{api}/user", headers)
        emails = await self._get_json(f"{api}/user/emails", headers)
        if not isinstance(user, dict) or not isinstance(emails, list):
            raise SsoError.of("idp_bad_response")
        user_id = user.get("id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise SsoError.of("idp_bad_response")
        primary = next(
            (e for e in emails if isinstance(e, dict) and e.get("primary") is True), None
        )
        if primary is None or primary.get("verified") is not True:
            raise SsoError.of("unverified_email")
        teams: Any = []
        if "read:org" in self.config.scopes:
            teams = await self._get_json(f"{api}/user/teams?per_page=100", headers)
        groups = [
            f"{t['organization']['login']}/{t['slug']}"
            for t in (teams if isinstance(teams, list) else [])
            if isinstance(t, dict)
            and isinstance(t.get("slug"), str)
            and isinstance(t.get("organization"), dict)
            and isinstance(t["organization"].get("login"), str)
        ]
        claims = {
            "sub": str(user_id),
            self.config.email_claim: primary.get("email"),
            "name": user.get("name"),
            "login": user.get("login"),
            self.config.groups_claim: groups,
        }
        return self.identity(claims, email_required=True)

    async def _verify_jwt(self, token: str, jwks_uri: str, audience: str) -> dict[str, Any]:
        """Signature (JWKS key, allowed algorithm), then iss, aud, sub, exp, iat, nbf."""
        try:
            header = extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError):
            raise SsoError.of("bad_token") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise SsoError.of("bad_token")
        kid = header.get("kid")
        key = await self._jwks.key(kid if isinstance(kid, str) else None, str(alg), jwks_uri)
        try:
            claims = jwt.decode(token, key, algorithms=[str(alg)]).claims
        except BadSignatureError:
            raise SsoError.of("bad_signature") from None
        except (JoseError, ValueError):
            raise SsoError.of("bad_token") from None
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": str(self.config.issuer)},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise SsoError.of("expired") from None
        except ClaimError as error:
            codes = {"iss": "wrong_issuer", "aud": "wrong_audience"}
            missing = error.error == "missing_claim"
            raise SsoError.of(
                "bad_token" if missing else codes.get(error.claim, "bad_token")
            ) from None
        return claims

    async def _exchange(self, code: str, verifier: str, redirect_uri: str) -> Mapping[str, Any]:
        meta = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        headers: dict[str, str] = {}
        if self.config.token_auth_method == "client_secret_post":  # noqa: S105 (a method name)
            form |= {"client_id": self.config.client_id, "client_secret": self._secret}
        else:  # RFC 6749 2.3.1: form-encode both before Basic
            user, password = quote(self.config.client_id, safe=""), quote(self._secret, safe="")
            headers["Authorization"] = aiohttp.encode_basic_auth(user, password)
        url = str(meta["token_endpoint"])
        status, body = await self._request("POST", url, data=form, headers=headers)
        if status in (400, 401) or (isinstance(body, dict) and "error" in body):
            raise SsoError.of("token_rejected")
        if status != 200 or not isinstance(body, dict):
            raise SsoError.of("idp_bad_response")
        return body

    async def _with_userinfo(self, claims: dict[str, Any], access_token: str) -> dict[str, Any]:
        endpoint = (await self.metadata()).get("userinfo_endpoint")
        if not isinstance(endpoint, str) or not self._url_ok(endpoint):
            return claims
        info = await self._get_json(endpoint, {"Authorization": f"Bearer {access_token}"})
        if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
            raise SsoError.of("idp_bad_response")
        return {**info, **claims}

    async def _fetch_jwks(self, jwks_uri: str) -> Any:
        return await self._get_json(jwks_uri)

    async def _get_json(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
        status, body = await self._request("GET", url, headers=headers)
        if status == 401:
            raise SsoError.of("token_rejected")
        if status != 200:
            raise SsoError.of("idp_unreachable" if status >= 500 else "idp_bad_response")
        return body

    async def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, parsed JSON or None). Redirects are not followed; bodies are capped.
        A pooled connection the IdP had already closed is retried once on a new one (a
        replayed token request is harmless: the IdP accepts a code only once)."""
        sent = {"Accept": "application/json", **(headers or {})}
        for attempt in (1, 2):
            try:
                async with self._http.request(
                    method, url, headers=sent, data=data,
                    allow_redirects=False, timeout=_TIMEOUT,
                ) as response:  # fmt: skip
                    body = bytearray()
                    async for chunk in response.content.iter_chunked(64 * 1024):
                        body += chunk
                        if len(body) > BODY_LIMIT:
                            raise SsoError.of("idp_bad_response")
                    status = response.status
                    break
            except aiohttp.ServerDisconnectedError:
                if attempt == 2:
                    raise SsoError.of("idp_unreachable") from None
            except (aiohttp.ClientError, TimeoutError):
                raise SsoError.of("idp_unreachable") from None
        try:
            return status, orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return status, None

    def _url_ok(self, url: str) -> bool:
        if url.startswith("https://"):
            return True
        return self.config.allow_insecure_loopback and url.startswith(
            ("http://127.0.0.1:", "http://localhost:", "http://[::1]:")
        )


def _strings(value: Any) -> tuple[str, ...]:
    """A claim as strings: a string, a number or a list of them; otherwise nothing."""
    items = value if isinstance(value, list) else [value]
    return tuple(
        str(v).lower() if isinstance(v, bool) else str(v)
        for v in items
        if isinstance(v, str | int | float) and v != ""
    )
