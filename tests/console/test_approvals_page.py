"""The approvals page over plain HTTP: an approver sees exactly what will run and
decides it through the same flow as ``/v1/approvals`` (bound to the shown hash, once,
never their own, after a recent sign-in); other roles and tenants get nothing; every
decision is in the audit chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from bastion.identity.directory import Directory
from bastion.sessions import SessionPolicy, SessionStore
from bastion.store.schema import AgentActionRow, SessionRow
from tests.console.test_routes import browser
from tests.e2e.actions_world import Hooks
from tests.e2e.conftest import Gateway

EVENT = '{"target": "ops", "event": "deploy.requested"}'


@pytest.fixture
def gateway_extra_settings() -> dict[str, object]:
    return {"actions_allowed_hosts": ["127.0.0.1"]}


@pytest.fixture
def hooks(gateway: Gateway) -> Iterator[Hooks]:
    """A webhook receiver, and the tenant's policy offering ``call_webhook`` to it."""
    receiver = Hooks()
    receiver.thread.start()
    (gateway.policies_dir / "default.toml").write_text(
        '[actions]\nenabled = ["call_webhook"]\n\n[actions.call_webhook]\n'
        f'targets = {{ ops = "http://127.0.0.1:{receiver.port}/ops" }}\n'
    )
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def session_in(
    gateway: Gateway,
    email: str,
    role: str,
    *,
    tenant: str = "acme",
    signed_in_ago: timedelta = timedelta(minutes=1),
) -> str:
    """A browser session of a user (made if new), signed in ``signed_in_ago``."""
    now = datetime.now(UTC)
    tenant_id = gateway.identity.tenant_id(tenant)
    directory = Directory(gateway.engine)
    known = {u.email: u for u in directory.users(tenant_id)}
    user = known.get(email) or directory.add_user(tenant_id, email, role, now)
    store = SessionStore(gateway.engine, lambda: datetime.now(UTC))
    return store.create(tenant_id, user.id, "oidc", now - signed_in_ago, SessionPolicy()).cookie


def propose(gateway: Gateway, email: str, role: str = "member") -> dict[str, Any]:
    """``email`` asks the assistant, whose (scripted) model proposes the webhook call."""
    key = gateway.identity.create_key("acme", email, datetime.now(UTC), role=role).secret
    reply = httpx.post(
        f"{gateway.base_url}/v1/assistant/chat",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt-test", "message": f"TOOL:call_webhook:{EVENT}"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    [proposed] = reply.json()["actions"]
    assert proposed["status"] == "pending_approval"
    return dict(proposed)


def token(page: str) -> str:
    return page.split('"X-CSRF-Token": "', 1)[1].split('"', 1)[0]


def decide(
    http: httpx.Client, action_id: str, verb: str, digest: str | None, csrf: str
) -> httpx.Response:
    data = {} if digest is None else {"action_hash": digest}
    answer = http.post(
        f"/console/approvals/{action_id}/{verb}", data=data, headers={"x-csrf-token": csrf}
    )
    assert answer.status_code == 200  # fragments swap in with 200; they say why in words
    return answer


def decisions(gateway: Gateway) -> list[tuple[str, str | None]]:
    records = [json.loads(b) for b in gateway.audit_bodies()]
    return [
        (r["outcome"], r.get("error_code"))
        for r in records
        if r["route"].startswith("POST /v1/approvals/")
    ]


def status_of(gateway: Gateway, action_id: str) -> str:
    with gateway.engine.connect() as conn:
        query = select(AgentActionRow.status).where(AgentActionRow.id == action_id)
        return str(conn.execute(query).scalar_one())


def test_an_approver_sees_the_exact_call_and_approving_runs_it_once(
    gateway: Gateway, hooks: Hooks
) -> None:
    """The queue shows arguments, requester, tier, expiry and hash; a wrong hash is
    refused with the API's reason, the shown one runs the action, a replay is refused."""
    proposed = propose(gateway, "ana@acme.test")
    action_id, digest = proposed["id"], proposed["action_hash"]
    with browser(gateway, session_in(gateway, "val@acme.test", "approver")) as http:
        page = http.get("/console/approvals")
        csrf = token(page.text)
        wrong = decide(http, action_id, "approve", "0" * 64, csrf)
        assert hooks.paths("/ops") == []
        done = decide(http, action_id, "approve", digest, csrf)
        replay = decide(http, action_id, "approve", digest, csrf)
        after = http.get("/console/approvals").text
    text = page.text
    assert page.status_code == 200
    assert "ana@acme.test" in text and digest in text and "call_webhook" in text
    assert "&#34;event&#34;: &#34;deploy.requested&#34;" in text  # the exact arguments
    assert f'name="action_hash" value="{digest}"' in text and "Expires" in text
    assert 'data-code="action_changed"' in wrong.text and "hash differs" in wrong.text
    assert 'data-code="succeeded"' in done.text and "it ran" in done.text
    assert 'data-code="action_decided"' in replay.text
    [event] = hooks.paths("/ops")
    assert event["event"] == "deploy.requested" and event["requested_by"] == "ana@acme.test"
    waiting, decided = after.split('id="decided"', 1)
    assert digest not in waiting and "Nothing is waiting" in waiting
    assert 'class="state succeeded"' in decided and "val@acme.test" in decided
    assert decisions(gateway) == [
        ("action_refused", "action_changed"),
        ("action_approved", None),
        ("action_succeeded", None),
        ("action_refused", "action_decided"),
    ]
    assert gateway.verify().ok


def test_an_old_sign_in_must_sign_in_again_before_seeing_or_deciding(
    gateway: Gateway, hooks: Hooks
) -> None:
    """Like the API, the queue and each decision need a sign-in within the tenant's
    step-up window: the page and the fragment offer to sign in again; nothing runs."""
    proposed = propose(gateway, "ana@acme.test")
    stale = session_in(gateway, "val@acme.test", "approver", signed_in_ago=timedelta(hours=3))
    with browser(gateway, stale) as http:
        page = http.get("/console/approvals")
        refused = decide(http, proposed["id"], "approve", proposed["action_hash"], token(page.text))
    assert page.status_code == 200 and "Sign in again" in page.text
    assert "step_up=1&amp;return_to=/console/approvals" in page.text
    assert proposed["action_hash"] not in page.text and "deploy.requested" not in page.text
    assert 'data-code="step_up"' in refused.text and "Sign in again" in refused.text
    assert "step_up=1&amp;return_to=/console/approvals" in refused.text
    assert status_of(gateway, proposed["id"]) == "pending" and hooks.paths("/ops") == []
    assert decisions(gateway) == []


def test_a_fresh_sign_in_through_the_same_user_then_approves(
    gateway: Gateway, hooks: Hooks
) -> None:
    """After signing in again (a new session of the same person), the decision runs."""
    proposed = propose(gateway, "ana@acme.test")
    session_in(gateway, "val@acme.test", "approver", signed_in_ago=timedelta(hours=3))
    with gateway.engine.begin() as conn:  # every session of the tenant is old now
        conn.execute(
            update(SessionRow).values(authenticated_at=datetime.now(UTC) - timedelta(hours=3))
        )
    fresh = session_in(gateway, "val@acme.test", "approver")
    with browser(gateway, fresh) as http:
        csrf = token(http.get("/console/approvals").text)
        done = decide(http, proposed["id"], "approve", proposed["action_hash"], csrf)
    assert 'data-code="succeeded"' in done.text
    assert len(hooks.paths("/ops")) == 1


@pytest.mark.parametrize("role", ["admin", "member", "viewer", "security_analyst"])
def test_roles_without_actions_approve_get_nothing(
    gateway: Gateway, hooks: Hooks, role: str
) -> None:
    """No queue and no decision for a role without ``actions.approve`` (an admin
    neither: separation of duties)."""
    proposed = propose(gateway, "ana@acme.test")
    with browser(gateway, session_in(gateway, f"{role}@acme.test", role)) as http:
        page = http.get("/console/approvals")
        csrf = token(page.text)
        approve = decide(http, proposed["id"], "approve", proposed["action_hash"], csrf)
        reject = decide(http, proposed["id"], "reject", None, csrf)
    assert page.status_code == 403 and proposed["action_hash"] not in page.text
    for answer in (approve, reject):
        assert 'data-code="permission_denied"' in answer.text and "actions.approve" in answer.text
    assert status_of(gateway, proposed["id"]) == "pending" and decisions(gateway) == []


def test_the_requester_cannot_approve_their_own_request(gateway: Gateway, hooks: Hooks) -> None:
    """An owner may ask and approve, but never their own request: refused and audited."""
    proposed = propose(gateway, "olga@acme.test", role="owner")
    with browser(gateway, session_in(gateway, "olga@acme.test", "owner")) as http:
        page = http.get("/console/approvals")
        refused = decide(http, proposed["id"], "approve", proposed["action_hash"], token(page.text))
    own = page.text.split(f'id="decide-{proposed["id"]}"', 1)[1].split("</div>", 1)[0]
    assert "Your own request" in own and "Approve</button>" not in own
    assert 'data-code="permission_denied"' in refused.text and "your own" in refused.text
    assert status_of(gateway, proposed["id"]) == "pending" and hooks.paths("/ops") == []
    assert decisions(gateway) == [("action_refused", "self_approval")]


def test_another_tenants_action_does_not_exist_here(gateway: Gateway, hooks: Hooks) -> None:
    """An approver of another tenant neither sees nor decides acme's request."""
    proposed = propose(gateway, "ana@acme.test")
    gateway.add_tenant("globex", "default")
    cookie = session_in(gateway, "gil@globex.test", "approver", tenant="globex")
    with browser(gateway, cookie) as http:
        page = http.get("/console/approvals")
        csrf = token(page.text)
        approve = decide(http, proposed["id"], "approve", proposed["action_hash"], csrf)
        reject = decide(http, proposed["id"], "reject", None, csrf)
    assert page.status_code == 200 and proposed["action_hash"] not in page.text
    assert "Nothing is waiting" in page.text
    for answer in (approve, reject):
        assert 'data-code="not_found"' in answer.text
    assert status_of(gateway, proposed["id"]) == "pending" and hooks.paths("/ops") == []


def test_bad_input_is_a_clear_fragment_and_rejecting_never_runs(
    gateway: Gateway, hooks: Hooks
) -> None:
    """A missing or malformed hash, an id that is none, no CSRF token: each a fragment
    saying what is wrong; a rejection is recorded and nothing runs."""
    proposed = propose(gateway, "ana@acme.test")
    action_id = proposed["id"]
    with browser(gateway, session_in(gateway, "val@acme.test", "approver")) as http:
        csrf = token(http.get("/console/approvals").text)
        missing = decide(http, action_id, "approve", None, csrf)
        malformed = decide(http, action_id, "approve", "<script>", csrf)
        no_such = decide(http, "not-an-action", "approve", proposed["action_hash"], csrf)
        no_csrf = http.post(
            f"/console/approvals/{action_id}/approve", data={"action_hash": "0" * 64}
        )
        rejected = decide(http, action_id, "reject", None, csrf)
        late = decide(http, action_id, "approve", proposed["action_hash"], csrf)
    for answer in (missing, malformed):
        assert 'data-code="invalid_request"' in answer.text and "hash" in answer.text
    assert "<script>" not in malformed.text
    assert 'data-code="not_found"' in no_such.text
    assert "CSRF" in no_csrf.text and no_csrf.status_code == 200
    assert 'data-code="rejected"' in rejected.text and "will not run" in rejected.text
    assert 'data-code="action_decided"' in late.text
    assert hooks.paths("/ops") == [] and status_of(gateway, action_id) == "rejected"
    assert decisions(gateway) == [("action_rejected", None), ("action_refused", "action_decided")]
    assert gateway.verify().ok
