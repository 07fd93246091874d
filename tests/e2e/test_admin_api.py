"""The admin API's rules beyond the permission table: sessions with CSRF and step-up,
owners, tenant isolation, keys that work at once and stop at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import openai
import pytest

from bastion.identity.directory import Directory
from bastion.sessions import COOKIE_NAME, SessionPolicy, SessionStore
from tests.e2e.conftest import Gateway


def admin_key(gateway: Gateway, tenant: str = "acme", role: str = "admin") -> str:
    now = datetime.now(UTC)
    gateway.identity.ensure_tenant(tenant, now)
    return gateway.identity.create_key(tenant, f"{role}@{tenant}.test", now, role=role).secret


def client(gateway: Gateway, key: str | None = None) -> httpx.Client:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=gateway.base_url, headers=headers, timeout=30)


def test_a_key_made_through_the_api_works_at_once_and_stops_when_revoked(
    gateway: Gateway,
) -> None:
    with client(gateway, admin_key(gateway, role="member")) as http:
        made = http.post("/admin/keys", json={"name": "laptop"})
        assert made.status_code == 201
        secret, key_id = made.json()["key"], made.json()["id"]
        listed = http.get("/admin/keys").json()
        assert key_id in {k["id"] for k in listed} and secret not in str(listed)
        ai = openai.OpenAI(base_url=gateway.openai_url, api_key=secret, max_retries=0)
        gateway.clients.append(ai)
        assert ai.models.list().data
        assert http.delete(f"/admin/keys/{key_id}").json()["status"] == "revoked"
    with pytest.raises(openai.AuthenticationError):
        ai.models.list()


def test_owners_are_changed_only_by_owners_and_the_last_one_stays(gateway: Gateway) -> None:
    tenant_id = gateway.identity.tenant_id("acme")
    with client(gateway, admin_key(gateway, role="owner")) as owner:
        me = owner.get("/admin/me").json()
        assert me["role"] == "owner" and me["via"] == "key" and me["csrf_token"] is None
        refused = owner.patch(f"/admin/users/{me['user_id']}", json={"role": "admin"})
        assert refused.status_code == 400 and "last owner" in refused.json()["error"]["message"]
    with client(gateway, admin_key(gateway, role="admin")) as admin:
        made = admin.post("/admin/users", json={"email": "boss@acme.test", "role": "owner"})
        assert made.status_code == 403
        owner_id = next(
            u.id for u in Directory(gateway.engine).users(tenant_id) if u.role == "owner"
        )
        assert admin.patch(f"/admin/users/{owner_id}", json={"disabled": True}).status_code == 403
        bad = admin.post("/admin/users", json={"email": "x@acme.test", "role": "emperor"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
        typo = admin.post("/admin/users", json={"email": "x@acme.test", "colour": "red"})
        assert typo.status_code == 400


def test_an_admin_sees_and_touches_only_its_own_tenant(gateway: Gateway) -> None:
    now = datetime.now(UTC)
    other_key = admin_key(gateway, tenant="globex")
    globex = gateway.identity.tenant_id("globex")
    stranger = Directory(gateway.engine).add_user(globex, "spy@globex.test", "member", now)
    with client(gateway, admin_key(gateway)) as acme:
        emails = {u["email"] for u in acme.get("/admin/users").json()}
        assert "spy@globex.test" not in emails and "admin@globex.test" not in emails
        assert acme.patch(f"/admin/users/{stranger.id}", json={"disabled": True}).status_code == 404
        with client(gateway, other_key) as other:
            globex_key = other.get("/admin/keys").json()[0]["id"]
        assert acme.delete(f"/admin/keys/{globex_key}").status_code == 404
    assert not Directory(gateway.engine).user(globex, stranger.id).disabled


def session_for(gateway: Gateway, role: str, signed_in_ago: timedelta) -> tuple[str, str]:
    """A browser session of a new user (as sign-in would make it); its cookie."""
    now = datetime.now(UTC)
    tenant_id = gateway.identity.tenant_id("acme")
    user = Directory(gateway.engine).add_user(tenant_id, f"{role}-s@acme.test", role, now)
    store = SessionStore(gateway.engine, lambda: datetime.now(UTC))
    issued = store.create(tenant_id, user.id, "oidc", now - signed_in_ago, SessionPolicy())
    return issued.cookie, issued.id


def test_a_session_needs_the_csrf_token_to_write_and_a_recent_sign_in_to_step_up(
    gateway: Gateway,
) -> None:
    fresh, _ = session_for(gateway, "member", timedelta(minutes=1))
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        http.cookies.set(COOKIE_NAME, fresh)
        me = http.get("/admin/me").json()
        assert me["via"] == "session" and me["csrf_token"]
        no_token = http.post("/admin/keys", json={"name": "x"})
        assert no_token.status_code == 403 and no_token.json()["error"]["code"] == "csrf_failed"
        forged = http.post("/admin/keys", json={"name": "x"}, headers={"x-csrf-token": "A" * 43})
        assert forged.status_code == 403
        made = http.post(
            "/admin/keys", json={"name": "x"}, headers={"x-csrf-token": me["csrf_token"]}
        )
        assert made.status_code == 201
    stale, _ = session_for(gateway, "admin", timedelta(minutes=20))
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        http.cookies.set(COOKIE_NAME, stale)
        token = http.get("/admin/me").json()["csrf_token"]
        assert http.get("/admin/users").status_code == 200  # not a step-up permission
        refused = http.post("/admin/keys", json={"name": "x"}, headers={"x-csrf-token": token})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "step_up_required"
        export = http.get("/admin/audit/export")
        assert export.json()["error"]["code"] == "step_up_required"


def test_a_revoked_or_tampered_session_is_refused_and_disabling_ends_sessions(
    gateway: Gateway,
) -> None:
    cookie, session_id = session_for(gateway, "member", timedelta(minutes=1))
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        http.cookies.set(COOKIE_NAME, cookie[:-2] + "xx")
        tampered = http.get("/admin/me")
        assert tampered.status_code == 401 and tampered.json()["error"]["code"] == "invalid_session"
        http.cookies.set(COOKIE_NAME, cookie)
        token = http.get("/admin/me").json()["csrf_token"]
        assert http.get("/admin/sessions").json()[0]["id"] == session_id
        ended = http.delete(f"/admin/sessions/{session_id}", headers={"x-csrf-token": token})
        assert ended.status_code == 204
        assert http.get("/admin/me").status_code == 401
    cookie, _ = session_for(gateway, "approver", timedelta(minutes=1))
    tenant_id = gateway.identity.tenant_id("acme")
    user_id = next(
        u.id
        for u in Directory(gateway.engine).users(tenant_id)
        if u.email == "approver-s@acme.test"
    )
    with client(gateway, admin_key(gateway)) as admin:
        assert admin.patch(f"/admin/users/{user_id}", json={"disabled": True}).status_code == 200
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        http.cookies.set(COOKIE_NAME, cookie)
        assert http.get("/admin/me").status_code == 401


def test_audit_export_and_verify_cover_the_tenant(gateway: Gateway) -> None:
    gateway.openai().chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hello audit"}]
    )
    with client(gateway, admin_key(gateway, role="security_analyst")) as analyst:
        assert analyst.get("/admin/audit/verify").json()["ok"] is True
        lines = analyst.get("/admin/audit/export").text.splitlines()
        assert any("hello audit" in line for line in lines)


def test_changes_and_refusals_are_in_the_audit_chain(gateway: Gateway) -> None:
    """Each admin change and each refusal is one record: route template, outcome, the
    action and ids; no key secret; the chain still verifies."""
    with client(gateway, admin_key(gateway)) as admin:
        made = admin.post("/admin/users", json={"email": "new@acme.test", "role": "viewer"})
        user_id = made.json()["id"]
        admin.patch(f"/admin/users/{user_id}", json={"role": "member"})
        secret = admin.post("/admin/keys", json={"name": "ci"}).json()["key"]
    with client(gateway, admin_key(gateway, role="viewer")) as viewer:
        assert viewer.get("/admin/audit/export").status_code == 403
    records = [json.loads(body) for body in gateway.audit_bodies()]
    admin_records = [r for r in records if r["outcome"] in ("admin_change", "admin_denied")]
    summary = [(r["route"], r["outcome"], r["extra"]["action"]) for r in admin_records]
    assert summary == [
        ("POST /admin/users", "admin_change", "user.add"),
        ("PATCH /admin/users/{user_id}", "admin_change", "user.update"),
        ("POST /admin/keys", "admin_change", "key.create"),
        ("GET /admin/audit/export", "admin_denied", "audit.export"),
    ]
    assert admin_records[1]["extra"] == {
        "action": "user.update",
        "target": user_id,
        "changes": {"role": "member"},
    }
    assert admin_records[3]["error_code"] == "permission_denied"
    assert secret not in json.dumps(records)
    assert gateway.verify().ok


def test_an_owner_renames_the_tenant_but_not_onto_another(gateway: Gateway) -> None:
    admin_key(gateway, tenant="globex")
    with client(gateway, admin_key(gateway, role="owner")) as owner:
        taken = owner.patch("/admin/tenant", json={"name": "globex"})
        assert taken.status_code == 400
        renamed = owner.patch("/admin/tenant", json={"name": "acme-corp"})
        assert renamed.json()["name"] == "acme-corp"
        assert owner.patch("/admin/tenant", json={"name": "bad name!"}).status_code == 400
    assert gateway.identity.tenant_id("acme-corp") == gateway.tenant_id


def test_a_policy_written_through_the_api_applies_at_once(gateway: Gateway) -> None:
    """PUT /admin/policy: a bad policy is refused with the reason and changes nothing;
    a good one applies to the next request, as a new version each time."""
    member = gateway.openai()
    with client(gateway, admin_key(gateway)) as admin:
        bad = admin.put("/admin/policy", json={"toml": "[sessions]\nidle_minutes = 0\n"})
        assert bad.status_code == 400 and "idle_minutes" in bad.json()["error"]["message"]
        assert admin.put("/admin/policy", json={"toml": "input = [\n"}).status_code == 400
        assert admin.put("/admin/policy", json={"toml": 'input = ["nope"]\n'}).status_code == 400
        assert admin.get("/admin/tenant").json()["policy"] == "default"
        written = admin.put("/admin/policy", json={"toml": 'models = ["claude-test"]\n'})
        assert written.status_code == 200
        assert written.json()["policy"] == f"@{gateway.tenant_id}:1"
        assert admin.get("/admin/policy").json()["models"] == ["claude-test"]
    with pytest.raises(openai.NotFoundError):
        member.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
    with client(gateway, admin_key(gateway)) as admin:
        again = admin.put("/admin/policy", json={"toml": 'models = ["*"]\n'})
        assert again.json()["policy"] == f"@{gateway.tenant_id}:2"
    assert (
        member.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
        .choices[0]
        .message.content
    )
