"""OIDC sign-in through the gateway against a real OpenID provider (npm oidc-provider
on loopback): a session cookie, role from the IdP's groups, step-up, and every way a
callback can be refused; each outcome audited."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
import openai
import pytest
from sqlalchemy import update

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.secrets import SecretStore
from bastion.sessions import COOKIE_NAME
from bastion.sso.oidc import OidcClient
from bastion.sso.oidc_config import parse_oidc_config
from bastion.store.schema import SessionRow
from tests.conftest import need_service
from tests.e2e.conftest import TEST_KEK, Gateway
from tests.sso.oidc_provider import OidcProvider, missing_programs

POLICY = """
[sso.oidc]
issuer = "{issuer}"
client_id = "bastion"
client_secret_name = "corp-idp"
scopes = ["openid", "email", "profile", "groups"]
allow_insecure_loopback = true
role_mapping = {{ "bastion-admins" = "admin" }}
default_role = "member"
jit = true

[sessions]
step_up_minutes = 5
"""


@pytest.fixture
def sso(gateway: Gateway) -> Iterator[OidcProvider]:
    """A provider whose client redirects to this gateway's callback; the tenant's policy
    names it and the client secret is sealed in the gateway's store."""
    need_service("node and npm (the OIDC provider)", not missing_programs())
    redirect = f"{gateway.base_url}/sso/acme/oidc/callback"
    with OidcProvider(redirect_uri=redirect) as op:
        (gateway.policies_dir / "corp.toml").write_text(POLICY.format(issuer=op.issuer))
        with gateway.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE tenants SET policy = 'corp' WHERE name = 'acme'")
        kek = LocalKeyProvider(base64.b64decode(TEST_KEK))
        keyring = Keyring(gateway.engine, kek, lambda: datetime.now(UTC))
        store = SecretStore(gateway.engine, keyring, lambda: datetime.now(UTC))
        store.put(
            "corp-idp", op.client_secret, kind="idp_client_secret", tenant_id=gateway.tenant_id
        )
        yield op


def sign_in(
    gateway: Gateway, op: OidcProvider, browser: httpx.Client, account: str, **query: str
) -> httpx.Response:
    """Begin at the gateway, sign in at the IdP, land back at the gateway's callback."""
    begin = browser.get(f"/sso/acme/oidc/login?{urlencode(query)}")
    assert begin.status_code == 302
    params = op.login(begin.headers["location"], account)
    return browser.get(f"/sso/acme/oidc/callback?{urlencode(params)}")


def records(gateway: Gateway, outcome: str) -> list[dict[str, object]]:
    bodies = [json.loads(b) for b in gateway.audit_bodies()]
    return [b for b in bodies if b["outcome"] == outcome]


def test_sign_in_makes_a_session_with_the_mapped_role(gateway: Gateway, sso: OidcProvider) -> None:
    with httpx.Client(base_url=gateway.base_url, timeout=30) as browser:
        landed = sign_in(gateway, sso, browser, "alice", return_to="/admin/me")
        assert landed.status_code == 302 and landed.headers["location"] == "/admin/me"
        cookie = landed.cookies.get(COOKIE_NAME)
        assert cookie and "HttpOnly" in landed.headers.get_list("set-cookie")[-1]
        me = browser.get("/admin/me").json()
        assert (me["email"], me["role"], me["via"]) == ("alice@example.com", "admin", "session")
        assert browser.get("/admin/users").status_code == 200
    with httpx.Client(base_url=gateway.base_url, timeout=30) as other:
        assert sign_in(gateway, sso, other, "carol").status_code == 302  # default role
        assert other.get("/admin/me").json()["role"] == "member"
    signed_in = records(gateway, "signed_in")
    assert len(signed_in) == 2 and all(r["extra"] == {"idp": "oidc"} for r in signed_in)
    assert gateway.verify().ok


def test_callbacks_that_must_fail(gateway: Gateway, sso: OidcProvider) -> None:
    """Replayed callback, callback in another browser (login CSRF), a state never
    issued, an unverified email, an IdP error: 401 sign_in_failed, no cookie, audited."""
    with httpx.Client(base_url=gateway.base_url, timeout=30) as browser:
        begin = browser.get("/sso/acme/oidc/login")
        params = sso.login(begin.headers["location"], "alice")
        callback = f"/sso/acme/oidc/callback?{urlencode(params)}"
        with httpx.Client(base_url=gateway.base_url, timeout=30) as attacker:
            stolen = attacker.get(callback)  # no binding cookie: another browser
        assert stolen.status_code == 401
        assert browser.get(callback).status_code == 302  # the state was not consumed above
        replay = browser.get(callback)
        assert replay.status_code == 401 and COOKIE_NAME not in replay.cookies
        forged = browser.get("/sso/acme/oidc/callback?code=x&state=never-issued")
        assert forged.json()["error"]["code"] == "sign_in_failed"
        unverified = sign_in(gateway, sso, browser, "bob")  # email_verified = false
        assert unverified.status_code == 401
        begin = browser.get("/sso/acme/oidc/login")
        denied = sso.login(begin.headers["location"], "alice", abort=True)
        aborted = browser.get(f"/sso/acme/oidc/callback?{urlencode(denied)}")
        assert aborted.status_code == 401
        assert "alice" not in aborted.text and params["code"] not in aborted.text
    reasons = [r["error_code"] for r in records(gateway, "sign_in_refused")]
    assert reasons == ["bad_state", "bad_state", "bad_state", "unverified_email", "idp_error"]


def test_step_up_refreshes_the_same_session(gateway: Gateway, sso: OidcProvider) -> None:
    with httpx.Client(base_url=gateway.base_url, timeout=30) as browser:
        sign_in(gateway, sso, browser, "alice")
        session_id = browser.get("/admin/sessions").json()[0]["id"]
        with gateway.engine.begin() as conn:  # the sign-in was an hour ago
            conn.execute(
                update(SessionRow)
                .where(SessionRow.id == session_id)
                .values(authenticated_at=datetime.now(UTC) - timedelta(hours=1))
            )
        token = browser.get("/admin/me").json()["csrf_token"]
        refused = browser.post("/admin/keys", json={}, headers={"x-csrf-token": token})
        assert refused.json()["error"]["code"] == "step_up_required"
        begin = browser.get("/sso/acme/oidc/login?step_up=true")
        assert "prompt=login" in begin.headers["location"]  # the IdP must ask again
        assert "max_age=0" in begin.headers["location"]
        again = sign_in(gateway, sso, browser, "alice", step_up="true")
        assert again.status_code == 302 and COOKIE_NAME not in again.cookies
        made = browser.post("/admin/keys", json={}, headers={"x-csrf-token": token})
        assert made.status_code == 201
        assert [s["id"] for s in browser.get("/admin/sessions").json()] == [session_id]
        # Step-up as someone else is refused and leaves the session as it was.
        with gateway.engine.begin() as conn:
            conn.execute(
                update(SessionRow)
                .where(SessionRow.id == session_id)
                .values(authenticated_at=datetime.now(UTC) - timedelta(hours=1))
            )
        assert sign_in(gateway, sso, browser, "carol", step_up="true").status_code == 401
        assert (
            browser.post("/admin/keys", json={}, headers={"x-csrf-token": token}).json()["error"][
                "code"
            ]
            == "step_up_required"
        )


def test_logout_ends_the_session(gateway: Gateway, sso: OidcProvider) -> None:
    with httpx.Client(base_url=gateway.base_url, timeout=30) as browser:
        sign_in(gateway, sso, browser, "alice")
        cookie = browser.cookies.get(COOKIE_NAME)
        token = browser.get("/admin/me").json()["csrf_token"]
        assert browser.post("/sso/logout").status_code == 403  # no CSRF token
        assert browser.post("/sso/logout", headers={"x-csrf-token": token}).status_code == 204
    with httpx.Client(base_url=gateway.base_url, timeout=30) as thief:
        thief.cookies.set(COOKIE_NAME, cookie or "")
        assert thief.get("/admin/me").status_code == 401  # use after revocation


API_POLICY = POLICY.replace(
    'client_secret_name = "corp-idp"',
    'client_secret_name = "corp-idp"\napi_audience = "https://bastion.test/api"',
)


def idp_tokens(op: OidcProvider, account: str) -> dict[str, Any]:
    """Tokens a program gets from the IdP for the API's audience (its own code flow)."""

    async def flow() -> dict[str, Any]:
        config = parse_oidc_config(
            {
                "issuer": op.issuer,
                "client_id": op.client_id,
                "client_secret_name": "x",
                "allow_insecure_loopback": True,
                "scopes": ["openid", "email", "profile", "groups"],
            }
        )
        async with aiohttp.ClientSession() as http:
            start = await OidcClient(config, op.client_secret, http=http).begin(op.redirect_uri)
        params = op.login(start.url, account)
        return op.exchange(params["code"], start.code_verifier)

    return asyncio.run(flow())


def test_the_idps_access_tokens_work_on_the_api(gateway: Gateway, sso: OidcProvider) -> None:
    """`Authorization: Bearer <IdP JWT>` with `X-Bastion-Tenant`: the chat API serves the
    person under their mapped role; an ID token, another tenant, a tampered or a
    missing audience are one 401."""
    (gateway.policies_dir / "corp.toml").write_text(API_POLICY.format(issuer=sso.issuer))
    gateway.identity.ensure_tenant("globex", datetime.now(UTC))  # no SSO in its policy
    tokens = idp_tokens(sso, "alice")

    def chat(token: str, tenant: str = "acme") -> openai.OpenAI:
        client = openai.OpenAI(
            base_url=gateway.openai_url,
            api_key=token,
            max_retries=0,
            default_headers={"X-Bastion-Tenant": tenant},
        )
        gateway.clients.append(client)
        return client

    reply = chat(tokens["access_token"]).chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi from alice"}]
    )
    assert reply.choices[0].message.content
    record = json.loads(gateway.audit_bodies()[-1])
    assert record["outcome"] == "allowed" and record["key_id"].startswith("idp:")
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        headers = {"authorization": f"Bearer {tokens['access_token']}", "x-bastion-tenant": "acme"}
        me = http.get("/admin/me", headers=headers).json()
        assert (me["email"], me["role"]) == ("alice@example.com", "admin")
    for token, tenant in (
        (tokens["id_token"], "acme"),  # an ID token is not an API token
        (tokens["access_token"], "globex"),  # a tenant that does not trust this IdP
        (tokens["access_token"][:-4] + "AAAA", "acme"),  # signature broken
        (tokens["access_token"], "nosuch"),
    ):
        with pytest.raises(openai.AuthenticationError) as info:
            chat(token, tenant).models.list()
        assert info.value.code == "invalid_api_key"


def test_a_session_can_chat_with_its_csrf_token(gateway: Gateway, sso: OidcProvider) -> None:
    with httpx.Client(base_url=gateway.base_url, timeout=30) as browser:
        sign_in(gateway, sso, browser, "carol")
        body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}]}
        refused = browser.post("/v1/chat/completions", json=body)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
        token = browser.get("/admin/me").json()["csrf_token"]
        ok = browser.post("/v1/chat/completions", json=body, headers={"x-csrf-token": token})
        assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"]
        # Idle past the tenant's timeout (30 minutes by default): the session is over.
        with gateway.engine.begin() as conn:
            conn.execute(
                update(SessionRow).values(last_seen_at=datetime.now(UTC) - timedelta(minutes=31))
            )
        late = browser.post("/v1/chat/completions", json=body, headers={"x-csrf-token": token})
        assert late.status_code == 401 and late.json()["error"]["code"] == "invalid_session"
