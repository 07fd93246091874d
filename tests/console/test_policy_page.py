"""The policy page: read for viewers, edited by admins after a recent sign-in, checked
before it is saved, dry-run on samples; a saved policy governs the next request."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from bastion.store.schema import SessionRow
from tests.console.test_routes import browser, session_for
from tests.e2e.conftest import Gateway

BLOCK_EMAILS = '[scanners.pii.entities.EMAIL_ADDRESS]\nto_model = "block"\n'
EMAIL_PROMPT = "Write to dana.lopez@example.org about the renewal"


def token(page: str) -> str:
    return page.split('"X-CSRF-Token": "', 1)[1].split('"', 1)[0]


def chat(gateway: Gateway, content: str) -> int:
    answer = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {gateway.key}"},
        json={"model": "gpt-test", "messages": [{"role": "user", "content": content}]},
        timeout=30,
    )
    return answer.status_code


def test_a_viewer_reads_the_policy_and_cannot_save(gateway: Gateway) -> None:
    with browser(gateway, session_for(gateway, "viewer")) as http:
        page = http.get("/console/policy")
        saved = http.post(
            "/console/policy",
            data={"toml": BLOCK_EMAILS},
            headers={"x-csrf-token": token(page.text)},
        )
    assert page.status_code == 200 and "readonly" in page.text
    assert "Validate and save" not in page.text
    assert 'data-code="permission_denied"' in saved.text and "policies.write" in saved.text
    assert chat(gateway, EMAIL_PROMPT) == 200


def test_an_admin_checks_dry_runs_and_saves_and_the_next_request_obeys(gateway: Gateway) -> None:
    assert chat(gateway, EMAIL_PROMPT) == 200
    with browser(gateway, session_for(gateway, "admin")) as http:
        headers = {"x-csrf-token": token(http.get("/console/policy").text)}
        bad = http.post("/console/policy", data={"toml": "input = 7\n"}, headers=headers)
        dry = http.post(
            "/console/policy/dry-run",
            data={"toml": BLOCK_EMAILS, "samples": f"hello\n{EMAIL_PROMPT}"},
            headers=headers,
        )
        saved = http.post("/console/policy", data={"toml": BLOCK_EMAILS}, headers=headers)
        no_csrf = http.post("/console/policy", data={"toml": BLOCK_EMAILS})
    assert "Invalid policy" in bad.text
    rows = dry.text.split("<tbody>", 1)[1]
    assert rows.count('class="decision allow"') == 1 and rows.count('class="decision block"') == 1
    assert 'data-code="saved"' in saved.text and "Saved as @" in saved.text
    assert "CSRF" in no_csrf.text or "csrf" in no_csrf.text
    assert chat(gateway, EMAIL_PROMPT) == 400  # the saved policy blocks it
    records = [json.loads(b) for b in gateway.audit_bodies()]
    changes = [r for r in records if r["outcome"] == "admin_change"]
    assert [c["extra"]["action"] for c in changes] == ["policy.write"]
    assert len(changes[0]["extra"]["changes"]["sha256"]) == 64
    assert "EMAIL_ADDRESS" not in json.dumps(changes)  # the hash, never the text


def test_saving_needs_a_recent_sign_in(gateway: Gateway) -> None:
    cookie = session_for(gateway, "admin")
    with gateway.engine.begin() as conn:
        conn.execute(
            update(SessionRow).values(authenticated_at=datetime.now(UTC) - timedelta(hours=3))
        )
    with browser(gateway, cookie) as http:
        headers = {"x-csrf-token": token(http.get("/console/policy").text)}
        saved = http.post("/console/policy", data={"toml": BLOCK_EMAILS}, headers=headers)
    assert 'data-code="step_up"' in saved.text
    assert "step_up=1" in saved.text and "return_to=/console/policy" in saved.text
    assert chat(gateway, EMAIL_PROMPT) == 200  # nothing changed
