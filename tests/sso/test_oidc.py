"""OIDC sign-in and IdP bearer tokens against a real OpenID Provider on loopback
(panva's oidc-provider, see ``tests/sso/oidc_provider.py``); the GitHub preset is in
``test_github_preset.py``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from bastion.sso.oidc import LEEWAY_SECONDS, LoginStart, OidcClient, SsoError
from bastion.sso.oidc_config import parse_oidc_config
from tests.sso.conftest import Clock, oidc_table
from tests.sso.oidc_provider import OidcProvider, make_jwks

MakeClient = Callable[..., OidcClient]


async def sign_in(
    client: OidcClient, op: OidcProvider, account: str = "alice"
) -> tuple[LoginStart, dict[str, str]]:
    """Begin, and play the browser through the provider's login and consent."""
    start = await client.begin(op.redirect_uri)
    return start, op.login(start.url, account)


async def raw_tokens(client: OidcClient, op: OidcProvider, account: str = "alice") -> tuple[
    LoginStart, dict[str, Any]
]:  # fmt: skip
    """The provider's token response for a fresh sign-in, redeemed by the test."""
    start, params = await sign_in(client, op, account)
    return start, op.exchange(params["code"], start.code_verifier)


async def complete(client: OidcClient, op: OidcProvider, start: LoginStart, params: dict[str, str],
                   **overrides: str) -> Any:  # fmt: skip
    values = {"state": start.state, "nonce": start.nonce, "code_verifier": start.code_verifier}
    return await client.complete(params, **(values | overrides), redirect_uri=op.redirect_uri)


class _Raises:
    """``with _Raises("bad_state") as caught:`` - an SsoError with that code."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.error: SsoError | None = None

    def __enter__(self) -> _Raises:
        return self

    def __exit__(self, kind: object, error: object, _tb: object) -> bool:
        assert isinstance(error, SsoError), f"expected SsoError({self.code}), got {error!r}"
        assert error.code == self.code
        self.error = error
        return True


def flip(segment: str) -> str:
    """``segment`` with one character in its middle changed."""
    middle = len(segment) // 2
    return segment[:middle] + ("A" if segment[middle] != "A" else "B") + segment[middle + 1 :]


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- the code flow ----------------------------------------------------------------


async def test_code_flow_with_pkce_state_and_nonce(
    make_client: MakeClient, oidc_op: OidcProvider
) -> None:
    """A full sign-in returns the person with their groups; the URL carries S256 PKCE."""
    client = make_client()
    start, params = await sign_in(client, oidc_op)
    query = dict(parse_qsl(urlsplit(start.url).query))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(start.code_verifier.encode()).digest())
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == challenge.rstrip(b"=").decode()
    assert query["state"] == start.state and query["nonce"] == start.nonce
    assert start.state != start.nonce

    identity = await complete(client, oidc_op, start, params)

    assert (identity.idp, identity.subject, identity.email) == (
        "oidc",
        "alice",
        "alice@example.com",
    )
    assert identity.groups == ("eng", "bastion-admins")
    assert identity.name == "Alice"
    assert identity.authenticated_at.tzinfo is not None


async def test_state_mismatch_is_refused_before_the_code_is_used(
    make_client: MakeClient, oidc_op: OidcProvider
) -> None:
    """A wrong or missing state fails; the code was not spent, so the right one works."""
    client = make_client()
    start, params = await sign_in(client, oidc_op)
    with _Raises("bad_state"):
        await complete(client, oidc_op, start, params, state="another-login-state")
    with _Raises("bad_state"):
        await complete(client, oidc_op, start, {k: v for k, v in params.items() if k != "state"})
    assert (await complete(client, oidc_op, start, params)).subject == "alice"


async def test_nonce_mismatch(make_client: MakeClient, oidc_op: OidcProvider) -> None:
    """An ID token for another nonce (a tampered stored nonce) is refused."""
    client = make_client()
    start, params = await sign_in(client, oidc_op)
    with _Raises("bad_nonce"):
        await complete(client, oidc_op, start, params, nonce=flip(start.nonce))


async def test_code_replay_fails(make_client: MakeClient, oidc_op: OidcProvider) -> None:
    """The same code redeemed twice: the provider refuses the second exchange."""
    client = make_client()
    start, params = await sign_in(client, oidc_op)
    await complete(client, oidc_op, start, params)
    with _Raises("token_rejected"):
        await complete(client, oidc_op, start, params)


async def test_wrong_code_verifier_fails(make_client: MakeClient, oidc_op: OidcProvider) -> None:
    """PKCE: a code stolen without its verifier cannot be redeemed."""
    client = make_client()
    start, params = await sign_in(client, oidc_op)
    with _Raises("token_rejected"):
        await complete(client, oidc_op, start, params, code_verifier="x" * 64)


async def test_idp_error_is_reported_safely(make_client: MakeClient, oidc_op: OidcProvider) -> None:
    """The person aborts at the IdP: a clear error naming the OAuth error code only."""
    client = make_client()
    start = await client.begin(oidc_op.redirect_uri)
    params = oidc_op.login(start.url, "alice", abort=True)
    assert params["error"] == "access_denied"
    with _Raises("idp_error") as caught:
        await complete(client, oidc_op, start, params)
    assert caught.error is not None and "(access_denied)" in caught.error.message
    assert "End-User" not in caught.error.message  # the IdP's free text is not echoed


async def test_iss_response_parameter_must_match(
    make_client: MakeClient, oidc_op: OidcProvider
) -> None:
    """RFC 9207: a redirect claiming another issuer (IdP mix-up) is refused."""
    client = make_client()
    start, params = await sign_in(client, oidc_op)
    with _Raises("wrong_issuer"):
        await complete(client, oidc_op, start, params | {"iss": "http://127.0.0.1:1"})


async def test_unverified_email_is_refused(make_client: MakeClient, oidc_op: OidcProvider) -> None:
    """email_verified = false: no sign-in."""
    client = make_client()
    start, params = await sign_in(client, oidc_op, "bob")
    with _Raises("unverified_email"):
        await complete(client, oidc_op, start, params)


async def test_email_domain_allow_list(make_client: MakeClient, oidc_op: OidcProvider) -> None:
    """Only the listed domains sign in (exact match)."""
    client = make_client(allowed_domains=["example.com"])
    start, params = await sign_in(client, oidc_op, "carol")
    with _Raises("domain_not_allowed"):
        await complete(client, oidc_op, start, params)
    start, params = await sign_in(client, oidc_op, "alice")
    assert (await complete(client, oidc_op, start, params)).email == "alice@example.com"


async def test_max_age_requires_a_recent_authentication(
    make_client: MakeClient, oidc_op: OidcProvider, clock: Clock
) -> None:
    """max_age goes to the IdP, and an older auth_time than allowed is refused."""
    client = make_client(max_age_minutes=1)
    start, params = await sign_in(client, oidc_op)
    assert dict(parse_qsl(urlsplit(start.url).query))["max_age"] == "60"
    clock.advance(60 + LEEWAY_SECONDS + 30)
    with _Raises("stale_auth"):
        await complete(client, oidc_op, start, params)


# --- ID token validation ------------------------------------------------------------


async def test_tampered_id_token_fails_signature(
    make_client: MakeClient, oidc_op: OidcProvider
) -> None:
    """One changed character in the signature, or in the claims: bad signature."""
    client = make_client()
    start, tokens = await raw_tokens(client, oidc_op)
    header, payload, signature = tokens["id_token"].split(".")
    assert await client.verify_id_token(tokens["id_token"], nonce=start.nonce)
    for tampered in (
        f"{header}.{payload}.{flip(signature)}",
        f"{header}.{flip(payload)}.{signature}",
    ):
        with _Raises("bad_signature"):
            await client.verify_id_token(tampered, nonce=start.nonce)


async def test_discovery_issuer_must_match_exactly(
    make_client: MakeClient, oidc_op: OidcProvider
) -> None:
    """A configured issuer differing by a trailing slash does not match discovery's."""
    client = make_client(issuer=oidc_op.issuer + "/")
    with _Raises("wrong_issuer"):
        await client.begin(oidc_op.redirect_uri)


async def test_id_token_from_another_issuer(make_client: MakeClient, oidc_op: OidcProvider) -> None:
    """A second provider with the same keys: its tokens still fail the iss check."""
    with OidcProvider(jwks=oidc_op.jwks) as other:
        other_client = make_client(op=other)
        start, tokens = await raw_tokens(other_client, other)
    with _Raises("wrong_issuer"):
        await make_client().verify_id_token(tokens["id_token"], nonce=start.nonce)


async def test_wrong_audience(make_client: MakeClient, oidc_op: OidcProvider) -> None:
    """An ID token issued to another client is refused."""
    start, tokens = await raw_tokens(make_client(), oidc_op)
    with _Raises("wrong_audience"):
        await make_client(client_id="another-client").verify_id_token(
            tokens["id_token"], nonce=start.nonce
        )


async def test_expired_and_future_id_tokens(
    make_client: MakeClient, oidc_op: OidcProvider, clock: Clock
) -> None:
    """Past exp (beyond the leeway): expired; iat in the future: refused."""
    client = make_client()
    start, tokens = await raw_tokens(client, oidc_op)
    clock.advance(oidc_op.id_token_ttl + LEEWAY_SECONDS + 1)
    with _Raises("expired"):
        await client.verify_id_token(tokens["id_token"], nonce=start.nonce)
    clock.advance(-(oidc_op.id_token_ttl + 2 * LEEWAY_SECONDS + 120))
    with _Raises("bad_token"):
        await client.verify_id_token(tokens["id_token"], nonce=start.nonce)


# --- keys ---------------------------------------------------------------------------


@pytest.fixture
def rotating_op(oidc_op: OidcProvider) -> Iterator[OidcProvider]:
    with OidcProvider(jwks=make_jwks("before")) as op:
        yield op


async def test_jwks_rotation(
    make_client: MakeClient, rotating_op: OidcProvider, clock: Clock
) -> None:
    """After the IdP rotates its keys, a token with the new kid verifies (the JWKS is
    refetched for the unknown kid); one signed by a withdrawn key no longer does."""
    client = make_client(op=rotating_op)
    old_start, old_tokens = await raw_tokens(client, rotating_op)
    await client.verify_id_token(old_tokens["id_token"], nonce=old_start.nonce)

    rotating_op.restart(jwks=make_jwks("after"))
    clock.advance(61)  # past the refetch interval since the first fetch
    start, params = await sign_in(client, rotating_op)
    assert (await complete(client, rotating_op, start, params)).subject == "alice"
    with _Raises("unknown_key"):
        await client.verify_id_token(old_tokens["id_token"], nonce=old_start.nonce)


async def test_unknown_kid_flood_refetches_at_most_once_per_interval(
    oidc_op: OidcProvider, clock: Clock
) -> None:
    """Fifty tokens with made-up kids at once: one JWKS fetch; again after the interval."""
    fetches: list[str] = []

    async def count(_session: Any, _ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        if params.url.path == "/jwks":
            fetches.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(count)
    attacker = RSAKey.generate_key(2048)
    now = int(clock())
    claims = {"iss": oidc_op.issuer, "aud": oidc_op.api_audience, "sub": "x", "iat": now,
              "exp": now + 300}  # fmt: skip

    def forged(i: int) -> str:
        return jwt.encode({"alg": "RS256", "kid": f"made-up-{i}"}, claims, attacker)

    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        config = parse_oidc_config(oidc_table(oidc_op))
        client = OidcClient(config, oidc_op.client_secret, http=session, clock=clock)
        for expected_fetches in (1, 2):
            results = await asyncio.gather(
                *(client.verify_bearer(forged(i)) for i in range(50)), return_exceptions=True
            )
            assert all(isinstance(r, SsoError) and r.code == "unknown_key" for r in results)
            assert len(fetches) == expected_fetches
            clock.advance(61)


# --- bearer access tokens -----------------------------------------------------------


async def test_bearer_access_token_accepted(make_client: MakeClient, oidc_op: OidcProvider) -> None:
    """A JWT access token for the API's audience gives the person and groups."""
    client = make_client()
    _, tokens = await raw_tokens(client, oidc_op)
    identity = await client.verify_bearer(tokens["access_token"])
    assert (identity.subject, identity.email) == ("alice", "alice@example.com")
    assert identity.groups == ("eng", "bastion-admins")


async def test_bearer_rejections(
    make_client: MakeClient, oidc_op: OidcProvider, clock: Clock
) -> None:
    """Wrong audience, an ID token, an expired token; and no bearer without api_audience."""
    client = make_client()
    _, tokens = await raw_tokens(client, oidc_op)
    with _Raises("wrong_audience"):
        await make_client(api_audience="https://other.test/api").verify_bearer(
            tokens["access_token"]
        )
    with _Raises("wrong_audience"):
        await client.verify_bearer(tokens["id_token"])
    no_bearer = make_client(api_audience=None)
    with _Raises("bearer_disabled"):
        await no_bearer.verify_bearer(tokens["access_token"])
    clock.advance(oidc_op.access_token_ttl + LEEWAY_SECONDS + 1)
    with _Raises("expired"):
        await client.verify_bearer(tokens["access_token"])


@pytest.mark.parametrize(
    "token", ["", "garbage", "opaque-token-abcdef0123456789", "a.b.c", "é.é.é", "a.b.c.d.e"]
)
async def test_bearer_garbage(make_client: MakeClient, token: str) -> None:
    """Malformed and opaque tokens are refused (no introspection)."""
    with _Raises("bad_token"):
        await make_client().verify_bearer(token)


async def test_alg_none_and_hmac_with_the_public_key_rejected(
    make_client: MakeClient, oidc_op: OidcProvider
) -> None:
    """An unsigned token, and one "signed" with HS256 using the IdP's public key."""
    client = make_client()
    _, tokens = await raw_tokens(client, oidc_op)
    claims = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[1] + "=="))
    kid = oidc_op.jwks["keys"][0]["kid"]
    unsigned = f"{b64({'alg': 'none', 'kid': kid})}.{b64(claims)}."
    public_pem = RSAKey.import_key(oidc_op.jwks["keys"][0]).as_pem(private=False)
    signing_input = f"{b64({'alg': 'HS256', 'kid': kid})}.{b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    hmac_token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    for token in (unsigned, hmac_token):
        with _Raises("bad_token"):
            await client.verify_bearer(token)


# --- failures leak nothing --------------------------------------------------------


async def test_errors_and_reprs_hold_no_secrets(
    make_client: MakeClient, oidc_op: OidcProvider, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """No token, code, state, nonce, verifier or client secret in any error or repr."""
    caplog.set_level(logging.DEBUG)
    client = make_client()
    start, params = await sign_in(client, oidc_op)
    await complete(client, oidc_op, start, params)
    start2, tokens = await raw_tokens(client, oidc_op)
    header, payload, signature = tokens["id_token"].split(".")
    caplog.clear()  # the test's own browser logs its redirects; what follows is Bastion's
    errors: list[SsoError] = []
    attempts = [
        complete(client, oidc_op, start, params),  # replay
        complete(client, oidc_op, start, params, state=start.state + "x"),
        client.verify_id_token(f"{header}.{payload}.{flip(signature)}", nonce=start2.nonce),
        client.verify_id_token(tokens["id_token"], nonce="other"),
        make_client(client_id="c2").verify_id_token(tokens["id_token"], nonce=start2.nonce),
        client.verify_bearer(tokens["id_token"]),
        client.verify_bearer(tokens["access_token"] + "x"),
    ]
    for attempt in attempts:
        try:
            await attempt
        except SsoError as error:
            errors.append(error)
    assert len(errors) == len(attempts)
    secrets = [
        tokens["id_token"], tokens["access_token"], payload, signature, params["code"],
        start.state, start.nonce, start.code_verifier, start2.nonce, oidc_op.client_secret,
    ]  # fmt: skip
    shown = [text for e in errors for text in (str(e), repr(e), *map(repr, e.args))]
    shown += [repr(client), repr(start), repr(client.config), caplog.text]
    assert all(e.__cause__ is None and e.__suppress_context__ for e in errors if e.__context__)
    for text in shown:
        for secret in secrets:
            assert secret not in text


async def test_unreachable_idp(make_client: MakeClient) -> None:
    """Nothing listening at the issuer: a clear, retryable error."""
    with _Raises("idp_unreachable"):
        await make_client(issuer="http://127.0.0.1:9").begin("http://127.0.0.1:9/cb")
