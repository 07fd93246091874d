"""The incidents page over plain HTTP: the tenant's incidents by status, one
incident's timeline, and, for ``incidents.respond`` after a recent sign-in, running a
playbook and closing an incident through the same calls as ``/v1/incidents``; other
roles and tenants get nothing; every step is in the audit chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.console.test_approvals_page import session_in, token
from tests.console.test_routes import browser
from tests.e2e.conftest import Gateway


def member(gateway: Gateway, email: str = "mallory@acme.test") -> tuple[str, str]:
    """A member's API key and user id."""
    issued = gateway.identity.create_key("acme", email, datetime.now(UTC), role="member")
    me = httpx.get(
        f"{gateway.base_url}/admin/me",
        headers={"authorization": f"Bearer {issued.secret}"},
        timeout=30,
    )
    return issued.secret, str(me.json()["user_id"])


def chat_status(gateway: Gateway, key: str) -> int:
    answer = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}]},
        timeout=30,
    )
    return answer.status_code


def run(http: httpx.Client, csrf: str, **fields: str) -> httpx.Response:
    answer = http.post("/console/incidents/run", data=fields, headers={"x-csrf-token": csrf})
    assert answer.status_code == 200  # fragments swap in with 200; they say why in words
    return answer


def incident_id(fragment: str) -> str:
    return fragment.split('href="/console/incidents/', 1)[1].split('"', 1)[0]


def outcomes(gateway: Gateway) -> list[str]:
    records = [json.loads(b) for b in gateway.audit_bodies()]
    return [r["outcome"] for r in records if r["outcome"].startswith("incident_")]


def test_an_analyst_runs_a_playbook_reads_the_timeline_and_closes_it(gateway: Gateway) -> None:
    """A data-leakage run really revokes the member's key; its timeline is on the
    incident's page; closing is recorded once; every step is in the audit chain."""
    key, user_id = member(gateway)
    assert chat_status(gateway, key) == 200
    cookie = session_in(gateway, "sam@acme.test", "security_analyst")
    with browser(gateway, cookie) as http:
        page = http.get("/console/incidents")
        csrf = token(page.text)
        ran = run(http, csrf, playbook="data_leakage", user_id=user_id)
        found = incident_id(ran.text)
        listed = http.get("/console/incidents").text
        contained = http.get("/console/incidents", params={"status": "contained"}).text
        closed_list = http.get("/console/incidents", params={"status": "closed"}).text
        timeline = http.get(f"/console/incidents/{found}")
        close = http.post(f"/console/incidents/{found}/close", headers={"x-csrf-token": csrf})
        again = http.post(f"/console/incidents/{found}/close", headers={"x-csrf-token": csrf})
        after = http.get(f"/console/incidents/{found}").text
    assert page.status_code == 200 and '<option value="' + user_id + '">' in page.text
    assert 'data-code="incident_opened"' in ran.text and "is contained" in ran.text
    assert "<code>revoke_api_keys</code>: done" in ran.text
    assert chat_status(gateway, key) == 401  # the playbook really acted
    assert found in listed and "mallory@acme.test" in listed and found in contained
    assert found not in closed_list and "No incidents" in closed_list
    assert timeline.status_code == 200
    assert "<code>list_queries</code>" in timeline.text and "Close incident" in timeline.text
    assert 'data-code="closed"' in close.text
    assert 'data-code="already_closed"' in again.text
    assert "Close incident" not in after and "sam@acme.test" in after
    seen = outcomes(gateway)
    assert seen[0] == "incident_opened" and seen.count("incident_step") == 3
    assert seen[-1] == "incident_closed" and seen.count("incident_closed") == 1
    assert gateway.verify().ok


def test_keys_a_rotation_issues_are_shown_once_only(gateway: Gateway) -> None:
    """A compromised-credentials run shows the replacement key in its answer only."""
    key, user_id = member(gateway, "cred@acme.test")
    with browser(gateway, session_in(gateway, "ada@acme.test", "admin")) as http:
        csrf = token(http.get("/console/incidents").text)
        ran = run(http, csrf, playbook="compromised_credentials", user_id=user_id)
        secret = ran.text.split('<code class="secret">', 1)[1].split("<", 1)[0]
        timeline = http.get(f"/console/incidents/{incident_id(ran.text)}").text
    assert "shown only now" in ran.text and secret.startswith("bst_")
    assert chat_status(gateway, key) == 401 and chat_status(gateway, secret) == 200
    assert secret not in timeline and secret not in "".join(gateway.audit_bodies())


def test_acting_needs_a_recent_sign_in(gateway: Gateway) -> None:
    """An analyst whose sign-in is older than the step-up window reads, but running and
    closing offer to sign in again (back to the same page); nothing happens."""
    key, user_id = member(gateway)
    with browser(gateway, session_in(gateway, "sam@acme.test", "security_analyst")) as http:
        first = run(
            http, token(http.get("/console/incidents").text), playbook="injection", user_id=user_id
        )
    found = incident_id(first.text)
    stale = session_in(
        gateway, "old@acme.test", "security_analyst", signed_in_ago=timedelta(hours=3)
    )
    before = outcomes(gateway)
    with browser(gateway, stale) as http:
        page = http.get("/console/incidents")
        csrf = token(page.text)
        ran = run(http, csrf, playbook="data_leakage", user_id=user_id)
        close = http.post(f"/console/incidents/{found}/close", headers={"x-csrf-token": csrf})
    assert page.status_code == 200 and found in page.text
    assert 'data-code="step_up"' in ran.text
    assert "return_to=/console/incidents" in ran.text
    assert 'data-code="step_up"' in close.text
    assert f"return_to=/console/incidents/{found}" in close.text
    assert outcomes(gateway) == before and chat_status(gateway, key) == 200


@pytest.mark.parametrize("role", ["approver", "member", "viewer"])
def test_roles_without_incidents_read_get_nothing(gateway: Gateway, role: str) -> None:
    """No list, no timeline and no action without the permissions."""
    key, user_id = member(gateway)
    with browser(gateway, session_in(gateway, "sam@acme.test", "security_analyst")) as http:
        csrf = token(http.get("/console/incidents").text)
        found = incident_id(run(http, csrf, playbook="injection", user_id=user_id).text)
    before = outcomes(gateway)
    with browser(gateway, session_in(gateway, f"{role}@acme.test", role)) as http:
        listing = http.get("/console/incidents")
        one = http.get(f"/console/incidents/{found}")
        csrf = token(listing.text)
        ran = run(http, csrf, playbook="data_leakage", user_id=user_id)
        close = http.post(f"/console/incidents/{found}/close", headers={"x-csrf-token": csrf})
    assert listing.status_code == 403 and one.status_code == 403 and found not in one.text
    for answer in (ran, close):
        assert 'data-code="permission_denied"' in answer.text and "incidents.respond" in answer.text
    assert outcomes(gateway) == before and chat_status(gateway, key) == 200


def test_another_tenants_incident_does_not_exist_here(gateway: Gateway) -> None:
    """An analyst of another tenant neither lists, reads nor closes acme's incident."""
    _, user_id = member(gateway)
    with browser(gateway, session_in(gateway, "sam@acme.test", "security_analyst")) as http:
        csrf = token(http.get("/console/incidents").text)
        found = incident_id(run(http, csrf, playbook="injection", user_id=user_id).text)
    gateway.add_tenant("globex", "default")
    cookie = session_in(gateway, "gil@globex.test", "security_analyst", tenant="globex")
    with browser(gateway, cookie) as http:
        listing = http.get("/console/incidents").text
        one = http.get(f"/console/incidents/{found}")
        close = http.post(
            f"/console/incidents/{found}/close", headers={"x-csrf-token": token(listing)}
        )
    assert found not in listing and "No incidents" in listing
    assert one.status_code == 404 and "No such incident" in one.text
    assert 'data-code="not_found"' in close.text
    assert outcomes(gateway).count("incident_closed") == 0


def test_bad_input_is_a_clear_fragment(gateway: Gateway) -> None:
    """No subject, an unknown playbook, an identifier that is none, an unknown status or
    incident, no CSRF token: each answered in words, nothing run."""
    with browser(gateway, session_in(gateway, "sam@acme.test", "security_analyst")) as http:
        csrf = token(http.get("/console/incidents").text)
        nothing = run(http, csrf, playbook="data_leakage")
        unknown = run(http, csrf, playbook="format_disk", user_id="u1")
        hostile = run(http, csrf, playbook="injection", session_id="<script>alert(1)</script>")
        status = http.get("/console/incidents", params={"status": "<b>odd</b>"})
        missing = http.get("/console/incidents/not-an-id")
        close = http.post("/console/incidents/not-an-id/close", headers={"x-csrf-token": csrf})
        no_csrf = http.post("/console/incidents/run", data={"playbook": "injection"})
    assert 'data-code="invalid_request"' in nothing.text and "subject" in nothing.text
    assert 'data-code="invalid_request"' in unknown.text and "data_leakage" in unknown.text
    assert 'data-code="invalid_request"' in hostile.text and "<script>" not in hostile.text
    assert status.status_code == 200 and "Unknown status" in status.text
    assert "<b>odd</b>" not in status.text
    assert missing.status_code == 404 and 'data-code="not_found"' in close.text
    assert no_csrf.status_code == 200 and "CSRF" in no_csrf.text
    assert outcomes(gateway) == []
