"""The keys and sessions page over plain HTTP: each role sees what the admin API would
show it, writes go through the same checks (CSRF, permission, step-up), a revoked key
is refused by the API at once, and a new key's secret is shown once and recorded
nowhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai
import pytest

from bastion.identity.directory import Directory
from bastion.sessions import COOKIE_NAME, SessionPolicy, SessionStore
from tests.e2e.conftest import Gateway


def person(
    gateway: Gateway, email: str, role: str, *, signed_in: timedelta = timedelta(minutes=1)
) -> tuple[str, str]:
    """A new user's id and a browser session cookie (signed in ``signed_in`` ago)."""
    now = datetime.now(UTC)
    user = Directory(gateway.engine).add_user(gateway.tenant_id, email, role, now)
    store = SessionStore(gateway.engine, lambda: datetime.now(UTC))
    issued = store.create(gateway.tenant_id, user.id, "oidc", now - signed_in, SessionPolicy())
    return user.id, issued.cookie


def key_for(gateway: Gateway, user_id: str, name: str) -> tuple[str, str]:
    """A key's id and secret."""
    issued = Directory(gateway.engine).create_key(
        gateway.tenant_id, user_id, datetime.now(UTC), name=name
    )
    return issued.id, issued.secret


class Browser:
    """A signed-in browser: the page, then htmx posts with the page's CSRF token."""

    def __init__(self, gateway: Gateway, cookie: str) -> None:
        self.http = httpx.Client(base_url=gateway.base_url, timeout=30, follow_redirects=False)
        self.http.cookies.set(COOKIE_NAME, cookie)
        self.page = self.http.get("/console/keys").text
        self.csrf = self.page.split('"X-CSRF-Token": "', 1)[1].split('"', 1)[0]

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True) -> str:
        headers = {"hx-request": "true"} | ({"x-csrf-token": self.csrf} if csrf else {})
        answer = self.http.post(path, data=data or {}, headers=headers)
        assert answer.status_code in (200, 204), answer.text
        return answer.text

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()


def chat(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])


def chat_with(gateway: Gateway, secret: str) -> openai.OpenAI:
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=secret, max_retries=0)
    gateway.clients.append(client)
    return client


def records(gateway: Gateway) -> list[dict[str, Any]]:
    return [json.loads(body) for body in gateway.audit_bodies()]


def test_a_member_sees_only_their_own_keys_and_an_admin_every_key(gateway: Gateway) -> None:
    member, member_cookie = person(gateway, "mia@acme.test", "member")
    admin, admin_cookie = person(gateway, "ada@acme.test", "admin")
    key_for(gateway, member, "mias-laptop")
    key_for(gateway, admin, "adas-ci")
    with Browser(gateway, member_cookie) as mia, Browser(gateway, admin_cookie) as ada:
        assert "mias-laptop" in mia.page and "adas-ci" not in mia.page
        assert "test" not in mia.page.split("Your API keys", 1)[1].split("<table", 1)[0]
        assert "Every other key" not in mia.page
        assert "ada@acme.test" not in mia.page.split("<main", 1)[1]  # nor her session
        assert "Your open sessions" in mia.page
        mine, others = ada.page.split("Every other key", 1)
        assert "adas-ci" in mine and "mias-laptop" not in mine
        assert "mias-laptop" in others and "alice@acme.test" in others  # the fixture's key
        assert "Open sessions of the tenant" in others and "mia@acme.test" in others


def test_a_key_revoked_on_the_page_is_refused_by_the_api(gateway: Gateway) -> None:
    """The gateway's cache of verified keys is dropped: the very next call is a 401."""
    client = gateway.openai()
    chat(client)  # the key is verified, and cached
    key_id = Directory(gateway.engine).keys(gateway.tenant_id)[0].id
    _, cookie = person(gateway, "ada@acme.test", "admin")
    with Browser(gateway, cookie) as ada:
        answer = ada.post(f"/console/keys/{key_id}/revoke")
    assert "revoked" in answer and "Revoke" not in answer
    with pytest.raises(openai.AuthenticationError):
        chat(client)
    mine = [r for r in records(gateway) if r["outcome"] == "admin_change"]
    assert [(r["route"], r["extra"]) for r in mine] == [
        (
            "POST /console/keys/{key_id}/revoke",
            {"action": "key.revoke", "target": key_id, "changes": {}},
        )
    ]
    assert gateway.verify().ok


def test_a_member_cannot_revoke_someone_elses_key(gateway: Gateway) -> None:
    key_id = Directory(gateway.engine).keys(gateway.tenant_id)[0].id
    _, cookie = person(gateway, "mia@acme.test", "member")
    with Browser(gateway, cookie) as mia:
        answer = mia.post(f"/console/keys/{key_id}/revoke")
        unknown = mia.post("/console/keys/no-such-key/revoke")
    assert 'class="refusal"' in answer and "keys.manage" in answer
    assert "No such key." in unknown
    chat(gateway.openai())  # still works
    denied = [r for r in records(gateway) if r["outcome"] == "admin_denied"]
    assert [(r["extra"]["action"], r["error_code"]) for r in denied] == [
        ("keys.manage", "permission_denied")
    ]


def test_a_new_keys_secret_is_shown_once_and_recorded_nowhere(gateway: Gateway) -> None:
    user_id, cookie = person(gateway, "mia@acme.test", "member")
    with Browser(gateway, cookie) as mia:
        answer = mia.http.post(
            "/console/keys",
            data={"name": "notebook", "expires_in_days": "30"},
            headers={"x-csrf-token": mia.csrf, "hx-request": "true"},
        )
        again = mia.http.get("/console/keys").text
    assert answer.headers["cache-control"] == "no-store"
    secret = answer.text.split('id="new-key-secret"', 1)[1].split('value="', 1)[1].split('"')[0]
    assert secret.startswith("bst_") and answer.text.count(secret) == 1
    assert 'id="my-keys" hx-swap-oob="true"' in answer.text and "notebook" in answer.text
    assert secret not in again and "notebook" in again
    chat(chat_with(gateway, secret))  # a working key
    made = Directory(gateway.engine).keys(gateway.tenant_id, user_id)
    assert [k.name for k in made] == ["notebook"] and made[0].expires_at is not None
    bodies = gateway.audit_bodies()
    assert secret not in "".join(bodies) and secret[8:] not in "".join(bodies)
    change = next(r for r in records(gateway) if r["outcome"] == "admin_change")
    assert change["route"] == "POST /console/keys"
    assert change["extra"] == {
        "action": "key.create",
        "target": made[0].id,
        "changes": {"user_id": user_id},
    }


def test_without_the_csrf_token_nothing_changes(gateway: Gateway) -> None:
    key_id = Directory(gateway.engine).keys(gateway.tenant_id)[0].id
    _, cookie = person(gateway, "ada@acme.test", "admin")
    with Browser(gateway, cookie) as ada:
        revoke = ada.post(f"/console/keys/{key_id}/revoke", csrf=False)
        create = ada.post("/console/keys", {"name": "x"}, csrf=False)
    for answer in (revoke, create):
        assert 'class="refusal"' in answer and "X-CSRF-Token" in answer
    assert Directory(gateway.engine).keys(gateway.tenant_id)[0].revoked_at is None
    assert len(Directory(gateway.engine).keys(gateway.tenant_id)) == 1
    chat(gateway.openai())


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"expires_in_days": "soon"}, "Expiry: a number of days"),
        ({"expires_in_days": "-3"}, "more than 0 and at most 3650"),
        ({"expires_in_days": "99999"}, "more than 0 and at most 3650"),
        ({"name": "n" * 129}, "Name: at most 128 characters."),
    ],
)
def test_bad_input_is_refused_in_words(gateway: Gateway, form: dict[str, str], says: str) -> None:
    user_id, cookie = person(gateway, "mia@acme.test", "member")
    with Browser(gateway, cookie) as mia:
        answer = mia.post("/console/keys", form)
    assert 'data-code="invalid_request"' in answer and says in answer
    assert Directory(gateway.engine).keys(gateway.tenant_id, user_id) == []


def test_a_body_that_is_not_a_form_is_refused_in_words(gateway: Gateway) -> None:
    user_id, cookie = person(gateway, "mia@acme.test", "member")
    with Browser(gateway, cookie) as mia:
        answer = mia.http.post(
            "/console/keys",
            json={"name": "x"},
            headers={"x-csrf-token": mia.csrf, "hx-request": "true"},
        )
        huge = mia.post("/console/keys", {"name": "n" * 5_000})
    assert "not a form" in answer.text and "not a form" in huge
    assert Directory(gateway.engine).keys(gateway.tenant_id, user_id) == []


def test_keys_need_a_recent_sign_in(gateway: Gateway) -> None:
    """keys.own is a step-up permission: an old sign-in sees its sessions and a link to
    sign in again, not its keys; a write is refused (and recorded) with that link."""
    user_id, cookie = person(gateway, "mia@acme.test", "member", signed_in=timedelta(hours=2))
    key_for(gateway, user_id, "mias-laptop")
    with Browser(gateway, cookie) as mia:
        answer = mia.post("/console/keys", {"name": "new"})
    assert "mias-laptop" not in mia.page and "step_up=1" in mia.page
    assert "Your open sessions" in mia.page
    assert 'data-code="step_up"' in answer and "Sign in again" in answer
    assert len(Directory(gateway.engine).keys(gateway.tenant_id, user_id)) == 1
    denied = next(r for r in records(gateway) if r["outcome"] == "admin_denied")
    assert denied["error_code"] == "step_up_required"
    assert denied["route"] == "POST /console/keys"


def test_sessions_are_ended_by_their_owner_or_an_admin(gateway: Gateway) -> None:
    _, mia_cookie = person(gateway, "mia@acme.test", "member")
    _, ada_cookie = person(gateway, "ada@acme.test", "admin")
    sessions = SessionStore(gateway.engine, lambda: datetime.now(UTC))
    ids = {s["email"]: s["id"] for s in sessions.open_sessions(gateway.tenant_id)}
    with Browser(gateway, mia_cookie) as mia, Browser(gateway, ada_cookie) as ada:
        refused = mia.post(f"/console/keys/sessions/{ids['ada@acme.test']}/end")
        ended = ada.post(f"/console/keys/sessions/{ids['mia@acme.test']}/end")
        after = mia.http.get("/console/keys")
        own = ada.http.post(
            f"/console/keys/sessions/{ids['ada@acme.test']}/end",
            headers={"x-csrf-token": ada.csrf, "hx-request": "true"},
        )
    assert "No such open session." in refused
    assert "Ended." in ended
    assert after.status_code == 303 and after.headers["location"] == "/console/login"
    assert own.status_code == 204 and own.headers["hx-redirect"] == "/console/login"
    assert sessions.open_sessions(gateway.tenant_id) == []
    changes = [r["extra"] for r in records(gateway) if r["outcome"] == "admin_change"]
    assert [c["action"] for c in changes] == ["session.end", "session.end"]
