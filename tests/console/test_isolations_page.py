"""The isolations section of the incidents page over plain HTTP: every active isolation
of the tenant is listed (kind, id, since when, the incident that made it); with
``incidents.respond`` after a recent sign-in, Release lifts it through the same
``release_isolation`` as ``POST /v1/isolations/release`` (audited; the key works again
at once). Other roles, stale sign-ins, missing CSRF tokens and other tenants release
nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bastion.console.render import Renderer
from bastion.response.isolation import Isolations
from tests.console.test_approvals_page import session_in, token
from tests.console.test_incidents_page import incident_id, run
from tests.console.test_routes import browser
from tests.e2e.conftest import Gateway

RELEASE = "/console/incidents/isolations/release"


@pytest.fixture
def gateway_extra_settings() -> dict[str, object]:
    """The gate's cache (60 s, the most allowed) outlives each test: a released key works
    again only because the release makes the gate forget, not because the cache expired."""
    return {"auth_cache_seconds": 60}


def member_key(gateway: Gateway, email: str = "mallory@acme.test") -> tuple[str, str]:
    """A member's API key: its secret and its id."""
    issued = gateway.identity.create_key("acme", email, datetime.now(UTC), role="member")
    return issued.secret, issued.id


def chat(gateway: Gateway, key: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}]},
        timeout=30,
    )


def is_refused_isolated(gateway: Gateway, key: str) -> bool:
    answer = chat(gateway, key)
    return answer.status_code == 403 and answer.json()["error"]["code"] == "isolated"


def isolate(gateway: Gateway, key_id: str) -> str:
    """Isolate the key with an injection run (an analyst's, through the console); the
    incident's id."""
    with browser(gateway, session_in(gateway, "sam@acme.test", "security_analyst")) as http:
        csrf = token(http.get("/console/incidents").text)
        return incident_id(run(http, csrf, playbook="injection", key_id=key_id).text)


def release(http: httpx.Client, csrf: str | None, **fields: str) -> httpx.Response:
    headers = {} if csrf is None else {"x-csrf-token": csrf}
    answer = http.post(RELEASE, data=fields, headers=headers)
    assert answer.status_code == 200  # fragments swap in with 200; they say why in words
    return answer


def releases(gateway: Gateway) -> list[dict[str, Any]]:
    records = [json.loads(b) for b in gateway.audit_bodies()]
    return [r for r in records if r["outcome"] == "isolation_released"]


def still_isolated(gateway: Gateway, key_id: str) -> bool:
    tenant_id = gateway.identity.tenant_id("acme")
    found = Isolations(gateway.engine, lambda: datetime.now(UTC)).active(tenant_id, "key", key_id)
    return found is not None


def test_an_analyst_sees_an_isolated_key_and_releases_it(gateway: Gateway) -> None:
    """The isolated key is refused ``isolated``; the page lists it with its incident
    and a labelled Release button; releasing answers at once, the key works again,
    the release is in the audit chain once, and a second release finds nothing."""
    key, key_id = member_key(gateway)
    assert chat(gateway, key).status_code == 200
    found = isolate(gateway, key_id)
    assert is_refused_isolated(gateway, key)
    cookie = session_in(gateway, "sam@acme.test", "security_analyst")
    with browser(gateway, cookie) as http:
        page = http.get("/console/incidents")
        csrf = token(page.text)
        released = release(http, csrf, kind="key", ref=key_id)
        works = chat(gateway, key)  # no wait: the gate forgot its cached isolations
        again = release(http, csrf, kind="key", ref=key_id)
        after = http.get("/console/incidents").text
        me = http.get("/admin/me").json()
    section = page.text.split('id="isolations-title"', 1)[1]
    assert page.status_code == 200 and f"key <code>{key_id}</code>" in section
    assert f'href="/console/incidents/{found}"><code>injection</code>' in section
    assert f'<button type="submit" aria-label="Release key {key_id}">Release</button>' in section
    assert key not in page.text
    assert 'data-code="released"' in released.text
    assert works.status_code == 200 and works.json()["choices"]
    assert 'data-code="not_found"' in again.text
    assert "Nothing is isolated." in after and f"Release key {key_id}" not in after
    (record,) = releases(gateway)
    assert record["extra"]["kind"] == "key" and record["extra"]["ref"] == key_id
    assert record["extra"]["incident_id"] == found
    assert record["extra"]["released_by"] == me["user_id"]
    assert gateway.verify().ok


@pytest.mark.parametrize("role", ["viewer", "member", "approver"])
def test_roles_without_incidents_respond_release_nothing(gateway: Gateway, role: str) -> None:
    """No incidents page (no ``incidents.read``) and a release is refused in words
    naming the permission; the key stays isolated."""
    key, key_id = member_key(gateway)
    isolate(gateway, key_id)
    with browser(gateway, session_in(gateway, f"{role}@acme.test", role)) as http:
        listing = http.get("/console/incidents")
        refused = release(http, token(listing.text), kind="key", ref=key_id)
    assert listing.status_code == 403 and key_id not in listing.text
    assert 'class="refusal"' in refused.text and "incidents.respond" in refused.text
    assert is_refused_isolated(gateway, key) and still_isolated(gateway, key_id)
    assert releases(gateway) == []


def test_the_list_without_incidents_respond_has_no_release_button(gateway: Gateway) -> None:
    """Every built-in role that reads incidents may also respond, so the page itself
    is rendered for a reader that may not: the isolation is listed, with no control."""
    _, key_id = member_key(gateway)
    found = isolate(gateway, key_id)
    tenant_id = gateway.identity.tenant_id("acme")
    listed = Isolations(gateway.engine, lambda: datetime.now(UTC)).listed(tenant_id)
    frame = {"user": "r@acme.test", "role": "reader", "tenant": "acme", "pages": [],
             "current": "incidents", "csrf": "t"}  # fmt: skip
    context = {
        **frame,
        "incidents": [],
        "status": "",
        "statuses": (),
        "error": "",
        "playbooks": [],
        "subject_fields": (),
        "isolations": listed,
        "release": RELEASE,
        "names": {},
        "can_respond": False,
    }
    body = Renderer().page("incidents.html", context).body.decode()
    assert [i.incident_id for i in listed] == [found] and listed[0].ref == key_id
    assert f"key <code>{key_id}</code>" in body
    section = body.split('id="isolations-title"', 1)[1]
    assert "<button" not in section and RELEASE not in body and "Release" not in section


def test_release_needs_the_csrf_token(gateway: Gateway) -> None:
    """Without the session's token nothing is released."""
    key, key_id = member_key(gateway)
    isolate(gateway, key_id)
    with browser(gateway, session_in(gateway, "sam@acme.test", "security_analyst")) as http:
        http.get("/console/incidents")
        refused = release(http, None, kind="key", ref=key_id)
        wrong = release(http, "not-the-token", kind="key", ref=key_id)
    for answer in (refused, wrong):
        assert 'class="refusal"' in answer.text and "CSRF" in answer.text
    assert is_refused_isolated(gateway, key) and releases(gateway) == []


def test_releasing_needs_a_recent_sign_in(gateway: Gateway) -> None:
    """An analyst signed in too long ago sees the isolation (and the button), but the
    release offers to sign in again, back to the incidents page; nothing is released."""
    key, key_id = member_key(gateway)
    isolate(gateway, key_id)
    stale = session_in(
        gateway, "old@acme.test", "security_analyst", signed_in_ago=timedelta(hours=3)
    )
    with browser(gateway, stale) as http:
        page = http.get("/console/incidents")
        refused = release(http, token(page.text), kind="key", ref=key_id)
    assert page.status_code == 200 and f"Release key {key_id}" in page.text
    assert 'data-code="step_up"' in refused.text and "Sign in again" in refused.text
    assert "step_up=1&amp;return_to=/console/incidents" in refused.text
    assert is_refused_isolated(gateway, key) and releases(gateway) == []


def test_bad_input_and_another_tenant_release_nothing(gateway: Gateway) -> None:
    """An unknown kind, a ref that is no identifier, an id with no isolation and
    another tenant's analyst (who lists nothing of acme's): answered in words."""
    key, key_id = member_key(gateway)
    isolate(gateway, key_id)
    with browser(gateway, session_in(gateway, "sam@acme.test", "security_analyst")) as http:
        csrf = token(http.get("/console/incidents").text)
        kind = release(http, csrf, kind="user", ref=key_id)
        hostile = release(http, csrf, kind="key", ref="<script>alert(1)</script>")
        missing = release(http, csrf, kind="session", ref=key_id)
        empty = release(http, csrf)
    gateway.add_tenant("globex", "default")
    cookie = session_in(gateway, "gil@globex.test", "security_analyst", tenant="globex")
    with browser(gateway, cookie) as http:
        listing = http.get("/console/incidents").text
        foreign = release(http, token(listing), kind="key", ref=key_id)
    for answer in (kind, hostile, empty):
        assert 'data-code="invalid_request"' in answer.text
    assert "<script>" not in hostile.text
    assert 'data-code="not_found"' in missing.text and 'data-code="not_found"' in foreign.text
    assert key_id not in listing and "Nothing is isolated." in listing
    assert is_refused_isolated(gateway, key) and releases(gateway) == []
