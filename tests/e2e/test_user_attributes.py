"""User attributes over HTTP: an admin sets them, a row filter binds them
(``region = :region``), a caller without one is refused (never unfiltered), only
``users.manage`` writes them, reserved names are refused; and an IdP's claims set them
at sign-in through the ``attributes`` mapping (a real provider's signing key)."""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.secrets import SecretStore
from tests.conftest import need_service
from tests.e2e.conftest import TEST_KEK, Gateway
from tests.sso.oidc_provider import OidcProvider, missing_programs

CONFIG = {
    "row_cap": 100,
    "tables": {"orders": {"columns": ["id", "region", "amount"], "row_filter": "region = :region"}},
}
SQL = {"sql": "SELECT id, region, amount FROM orders WHERE 1 = 1 OR region <> ''"}


@pytest.fixture
def gateway_extra_settings(tmp_path: Path) -> dict[str, object]:
    sources = tmp_path / "sources"
    sources.mkdir()
    return {"data_sources_sqlite_dir": sources}


def user_key(gateway: Gateway, email: str, role: str = "member") -> tuple[str, str]:
    """A key for ``email`` (made a user of acme) and the user's id."""
    issued = gateway.identity.create_key("acme", email, datetime.now(UTC), role=role)
    with gateway.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, email FROM users").all()
    return issued.secret, next(str(i) for i, e in rows if e == email)


def client(gateway: Gateway, key: str, **headers: str) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.base_url,
        headers={"authorization": f"Bearer {key}", **headers},
        timeout=30,
    )


def shared_source(gateway: Gateway, directory: Path, owner_key: str) -> str:
    """orders in EU and US, shared with every member; its id."""
    path = directory / "orders.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER, region TEXT, amount INTEGER)")
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)",
            [(1, "EU", 10), (2, "EU", 20), (3, "US", 30), (4, "APAC", 40)],
        )
    with client(gateway, owner_key) as owner:
        made = owner.post(
            "/v1/sources",
            json={"name": "orders", "kind": "sqlite", "url": f"sqlite:///{path}", "config": CONFIG},
        )
        assert made.status_code == 201, made.text
        source_id: str = made.json()["id"]
        shared = owner.post(
            f"/v1/sources/{source_id}/shares", json={"kind": "role", "grantee": "member"}
        )
        assert shared.status_code == 204
    return source_id


def audit(gateway: Gateway) -> list[dict[str, Any]]:
    return [json.loads(b) for b in gateway.audit_bodies()]


def test_row_filters_bind_the_attributes_an_admin_set(
    gateway: Gateway, gateway_extra_settings: dict[str, object]
) -> None:
    admin_key, _ = user_key(gateway, "root@acme.test", role="admin")
    alice_key, alice = user_key(gateway, "alice@acme.test")
    bob_key, bob = user_key(gateway, "bob@acme.test")
    carol_key, carol = user_key(gateway, "carol@acme.test")
    directory = Path(str(gateway_extra_settings["data_sources_sqlite_dir"]))
    source_id = shared_source(gateway, directory, admin_key)
    with (
        client(gateway, admin_key) as admin,
        client(gateway, alice_key) as alice_http,
        client(gateway, bob_key) as bob_http,
        client(gateway, carol_key) as carol_http,
    ):
        for user, region in ((alice, "EU"), (bob, "US")):
            put = admin.put(
                f"/admin/users/{user}/attributes", json={"attributes": {"region": region}}
            )
            assert put.status_code == 200, put.text
            assert put.json() == {"user_id": user, "attributes": {"region": region}}
        assert admin.get(f"/admin/users/{alice}/attributes").json()["attributes"] == {
            "region": "EU"
        }
        assert admin.get(f"/admin/users/{carol}/attributes").json()["attributes"] == {}

        eu = alice_http.post(f"/v1/sources/{source_id}/query", json=SQL)
        assert eu.status_code == 200, eu.text
        assert sorted(row[0] for row in eu.json()["rows"]) == [1, 2]
        assert "'EU'" in eu.json()["sql"]
        us = bob_http.post(f"/v1/sources/{source_id}/query", json=SQL).json()
        assert [row[0] for row in us["rows"]] == [3]

        # No attribute: refused, never answered without the filter.
        none = carol_http.post(f"/v1/sources/{source_id}/query", json=SQL)
        assert none.status_code == 400
        assert none.json()["error"]["code"] == "query_refused"
        assert "missing_attribute" in none.json()["error"]["message"]
        # The request cannot carry its own region.
        chosen = carol_http.post(
            f"/v1/sources/{source_id}/query", json={**SQL, "params": {"region": "EU"}}
        )
        assert chosen.status_code == 400

        # Replacing drops the old keys; the next query sees the change at once.
        moved = admin.put(
            f"/admin/users/{alice}/attributes", json={"attributes": {"team": "sales"}}
        )
        assert moved.json()["attributes"] == {"team": "sales"}
        assert alice_http.post(f"/v1/sources/{source_id}/query", json=SQL).status_code == 400
    records = audit(gateway)
    changes = [r for r in records if r.get("extra", {}).get("action") == "user.attributes"]
    assert [c["extra"]["changes"] for c in changes] == [
        {"set": ["region"], "removed": []},
        {"set": ["region"], "removed": []},
        {"set": ["team"], "removed": ["region"]},
    ]
    assert all(c["outcome"] == "admin_change" for c in changes)
    assert "sales" not in json.dumps(changes) and "'EU'" not in json.dumps(changes)
    refused = [r for r in records if r["outcome"] == "query_refused"]
    assert [r["data_sources"][0]["guard"] for r in refused] == ["missing_attribute"] * 2
    assert gateway.verify().ok


@pytest.mark.parametrize(
    ("attributes", "fragment"),
    [
        ({"role": "owner"}, "reserved"),
        ({"user_id": "someone-else"}, "reserved"),
        ({"user_email": "ceo@acme.test"}, "reserved"),
        ({"region": 7}, "must be a string"),
        ({"region": True}, "must be a string"),
        ({"region": ["EU", "US"]}, "must be a string"),
        ({"Region": "EU"}, "lowercase"),
        ({"1region": "EU"}, "lowercase"),
        ({"region": "x" * 257}, "longer than 256"),
        ({f"k{i}": "v" for i in range(33)}, "at most 32"),
    ],
)
def test_invalid_attributes_are_a_400_naming_the_key(
    gateway: Gateway, attributes: dict[str, Any], fragment: str
) -> None:
    admin_key, _ = user_key(gateway, "root@acme.test", role="admin")
    _, alice = user_key(gateway, "alice@acme.test")
    with client(gateway, admin_key) as admin:
        response = admin.put(f"/admin/users/{alice}/attributes", json={"attributes": attributes})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_request" and fragment in error["message"]
        assert "ceo@acme.test" not in response.text and "someone-else" not in response.text
        assert admin.get(f"/admin/users/{alice}/attributes").json()["attributes"] == {}


def test_only_users_manage_writes_attributes(gateway: Gateway) -> None:
    """A member may neither set their own attributes nor read anyone's; an admin may
    not change an owner's; an unknown user is a 404."""
    member_key, member = user_key(gateway, "mem@acme.test")
    admin_key, _ = user_key(gateway, "adm@acme.test", role="admin")
    _, owner = user_key(gateway, "own@acme.test", role="owner")
    body = {"attributes": {"region": "EU"}}
    with client(gateway, member_key) as mem, client(gateway, admin_key) as admin:
        for path in (f"/admin/users/{member}/attributes", f"/admin/users/{owner}/attributes"):
            denied = mem.put(path, json=body)
            assert denied.status_code == 403
            assert denied.json()["error"]["code"] == "permission_denied"
            assert mem.get(path).status_code == 403
        assert admin.put(f"/admin/users/{owner}/attributes", json=body).status_code == 403
        assert admin.get(f"/admin/users/{owner}/attributes").status_code == 200
        assert admin.put("/admin/users/nobody/attributes", json=body).status_code == 404
        assert admin.get("/admin/users/nobody/attributes").status_code == 404
    denials = [r for r in audit(gateway) if r["outcome"] == "admin_denied"]
    assert len(denials) >= 5


# --- from the IdP: an access token signed with the provider's own key ------------------

POLICY = """
[sso.oidc]
issuer = "{issuer}"
client_id = "bastion"
client_secret_name = "corp-idp"
api_audience = "{audience}"
allow_insecure_loopback = true
default_role = "member"
jit = true
attributes = {{ region = "region", team = "teams", level = "level" }}
"""


@pytest.fixture
def idp(gateway: Gateway) -> Iterator[OidcProvider]:
    need_service("node and npm (the OIDC provider)", not missing_programs())
    with OidcProvider() as op:
        (gateway.policies_dir / "corp.toml").write_text(
            POLICY.format(issuer=op.issuer, audience=op.api_audience)
        )
        with gateway.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE tenants SET policy = 'corp' WHERE name = 'acme'")
        kek = LocalKeyProvider(base64.b64decode(TEST_KEK))
        keyring = Keyring(gateway.engine, kek, lambda: datetime.now(UTC))
        store = SecretStore(gateway.engine, keyring, lambda: datetime.now(UTC))
        store.put(
            "corp-idp", op.client_secret, kind="idp_client_secret", tenant_id=gateway.tenant_id
        )
        yield op


def access_token(op: OidcProvider, subject: str, **claims: Any) -> str:
    """A JWT access token as the provider issues them, signed with its own RSA key."""
    private = op.jwks["keys"][0]
    key = RSAKey.import_key(private)
    now = int(time.time())
    body = {
        "iss": op.issuer,
        "aud": op.api_audience,
        "sub": subject,
        "email": f"{subject}@example.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    return jwt.encode({"alg": "RS256", "kid": private["kid"]}, body, key)


def test_idp_claims_set_the_mapped_attributes(
    gateway: Gateway,
    gateway_extra_settings: dict[str, object],
    idp: OidcProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each token sets the mapped claims: one string becomes the attribute; a list or
    a number is refused (logged by name only) and an absent claim removes the
    attribute; unmapped claims never become attributes. The row filter follows."""
    admin_key, _ = user_key(gateway, "root@acme.test", role="admin")
    source_id = shared_source(
        gateway, Path(str(gateway_extra_settings["data_sources_sqlite_dir"])), admin_key
    )

    def as_dave(**claims: Any) -> httpx.Client:
        return client(gateway, access_token(idp, "dave", **claims), **{"x-bastion-tenant": "acme"})

    caplog.set_level(logging.INFO, logger="bastion.sso")
    with as_dave(region="EU", teams=["red", "blue"], level=3, secret_claim="s3") as dave:
        answer = dave.post(f"/v1/sources/{source_id}/query", json=SQL)
        assert answer.status_code == 200, answer.text
        assert sorted(row[0] for row in answer.json()["rows"]) == [1, 2]
    with gateway.engine.connect() as conn:
        dave_id = conn.exec_driver_sql(
            "SELECT id FROM users WHERE email = 'dave@example.com'"
        ).scalar_one()
    with client(gateway, admin_key) as admin:
        stored = admin.get(f"/admin/users/{dave_id}/attributes").json()["attributes"]
        assert stored == {"region": "EU"}  # not teams (a list), level (a number), secret_claim
        # An admin-set attribute nobody maps survives the IdP's updates.
        admin.put(
            f"/admin/users/{dave_id}/attributes",
            json={"attributes": {"region": "EU", "desk": "7"}},
        )
    refusals = [r.getMessage() for r in caplog.records if "idp attributes refused" in r.message]
    assert refusals and "level,team" in refusals[0]
    assert all("red" not in m and "s3" not in m for m in caplog.messages)

    with as_dave(region="US") as dave:
        rows = dave.post(f"/v1/sources/{source_id}/query", json=SQL).json()["rows"]
        assert [row[0] for row in rows] == [3]
    with as_dave(region="x" * 300) as dave:  # invalid: removed, so the filter refuses
        refused = dave.post(f"/v1/sources/{source_id}/query", json=SQL)
        assert refused.status_code == 400
        assert "missing_attribute" in refused.json()["error"]["message"]
    with client(gateway, admin_key) as admin:
        stored = admin.get(f"/admin/users/{dave_id}/attributes").json()["attributes"]
        assert stored == {"desk": "7"}
    with as_dave(role="owner", user_id="someone") as dave:  # reserved names: never claims
        assert dave.get("/admin/me").json()["role"] == "member"
