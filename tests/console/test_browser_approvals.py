"""Approvals and incidents in a real browser (Debian's Chromium under Playwright),
signed in through the tenant's real OpenID provider: an approver sees a colleague's
pending action with its exact arguments, is asked to sign in again when their sign-in
is old, signs in again and approves, and the action runs; an admin runs a playbook and
reads its timeline. No Content Security Policy violation. Screenshots go to
docs/console/ (approvals.png, incidents.png)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from bastion.store.schema import SessionRow
from tests.console.browser import POLICY, SHOTS, db_url, sign_in  # noqa: F401 (db_url: SQLite only)
from tests.console.test_approvals_page import (  # noqa: F401 (a fixture)
    gateway_extra_settings,
    propose,
)
from tests.console.test_incidents_page import chat_status
from tests.e2e.actions_world import Hooks
from tests.e2e.conftest import Gateway
from tests.sso.oidc_provider import OidcProvider

ACTIONS = """
[actions]
enabled = ["call_webhook"]

[actions.call_webhook]
targets = {{ ops = "http://127.0.0.1:{port}/ops" }}
"""


@pytest.fixture
def receiver() -> Iterator[Hooks]:
    """A loopback webhook receiver (the ``ops`` target)."""
    hooks = Hooks()
    hooks.thread.start()
    try:
        yield hooks
    finally:
        hooks.server.shutdown()
        hooks.server.server_close()


def approvers_and_webhook(gateway: Gateway, sso: OidcProvider, receiver: Hooks) -> None:
    """acme's policy: the IdP's admins group approves (an admin may not: separation of
    duties), and agents may call the ``ops`` webhook of ``receiver``."""
    policy = POLICY.format(issuer=sso.issuer).replace('= "admin"', '= "approver"')
    (gateway.policies_dir / "corp.toml").write_text(policy + ACTIONS.format(port=receiver.port))


def watch_csp(p: Page) -> list[str]:
    violations: list[str] = []
    p.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return violations


def sign_in_again(p: Page, gateway: Gateway, account: str) -> None:
    """The identity provider asks for the password anew (and may ask consent again)."""
    p.fill("input[name=login]", account)
    p.fill("input[name=password]", "any")
    p.click("button[type=submit]")
    back = f"{gateway.base_url}/console/"
    if not p.url.startswith(back):
        p.wait_for_load_state()
        if not p.url.startswith(back):
            p.click("button[type=submit]")  # consent
    p.wait_for_url(lambda url: url.startswith(back))


def test_an_approver_signs_in_again_and_approves_a_colleagues_action(
    gateway: Gateway, sso: OidcProvider, receiver: Hooks, page: Page
) -> None:
    approvers_and_webhook(gateway, sso, receiver)
    proposed = propose(gateway, "ana@acme.test")
    p = page
    violations = watch_csp(p)
    sign_in(p, gateway, "alice")
    p.goto(f"{gateway.base_url}/console/approvals")
    request = p.locator("article.approval")
    assert "call_webhook requested by ana@acme.test" in request.inner_text()
    assert '"event": "deploy.requested"' in request.locator("pre.arguments").inner_text()
    assert proposed["action_hash"] in request.inner_text()
    p.screenshot(path=str(SHOTS / "approvals.png"), full_page=True)

    with gateway.engine.begin() as conn:  # the sign-in is older than the step-up window
        conn.execute(
            update(SessionRow).values(authenticated_at=datetime.now(UTC) - timedelta(hours=3))
        )
    p.get_by_role("button", name="Approve", exact=True).click()
    refusal = p.locator("[data-code=step_up]")
    refusal.wait_for()
    assert "needs a recent sign-in" in refusal.inner_text()
    assert receiver.paths("/ops") == []

    refusal.locator("a", has_text="Sign in again").click()
    sign_in_again(p, gateway, "alice")
    assert p.url.endswith("/console/approvals")
    p.get_by_role("button", name="Approve", exact=True).click()
    p.locator("[data-code=succeeded]").wait_for()
    assert "it ran" in p.inner_text(f"#decide-{proposed['id']}")
    [event] = receiver.paths("/ops")
    assert event["event"] == "deploy.requested" and event["requested_by"] == "ana@acme.test"
    p.reload()
    assert "Nothing is waiting" in p.inner_text("main")
    assert "succeeded" in p.inner_text("section[aria-labelledby=decided]")
    assert violations == []


def test_an_admin_runs_a_playbook_and_reads_its_timeline(
    gateway: Gateway, sso: OidcProvider, page: Page
) -> None:
    secret = gateway.identity.create_key(
        "acme", "mallory@acme.test", datetime.now(UTC), role="member"
    ).secret
    p = page
    violations = watch_csp(p)
    p.on("dialog", lambda dialog: dialog.accept())  # "Run this playbook now?"
    sign_in(p, gateway, "alice")
    p.goto(f"{gateway.base_url}/console/incidents")
    assert "No incidents" in p.inner_text("main")
    p.select_option("#playbook", "data_leakage")
    p.select_option("#user_id", label="mallory@acme.test")
    p.get_by_role("button", name="Run playbook").click()
    p.locator("[data-code=incident_opened]").wait_for()
    assert "is contained" in p.inner_text("#run-result")
    # An injection run on eve's key isolates it: listed, and released from the page.
    eve = gateway.identity.create_key("acme", "eve@acme.test", datetime.now(UTC), role="member")
    p.select_option("#playbook", "injection")
    p.select_option("#user_id", label="(none)")
    p.fill("#key_id", eve.id)
    p.get_by_role("button", name="Run playbook").click()
    # The first run's notice is still there: wait for this run's own (an injection one).
    p.locator("#run-result [data-code=incident_opened]", has_text="injection").wait_for()
    assert chat_status(gateway, eve.secret) == 403
    p.goto(f"{gateway.base_url}/console/incidents")
    assert "mallory@acme.test" in p.inner_text("table")
    release = p.get_by_role("button", name=f"Release key {eve.id}")
    expect(release).to_be_visible()
    p.screenshot(path=str(SHOTS / "incidents.png"), full_page=True)
    release.click()
    expect(p.locator("[data-code=released]")).to_be_visible()
    assert chat_status(gateway, eve.secret) == 200
    p.locator("tbody tr", has_text="data_leakage").locator("a", has_text="Timeline").click()
    expect(p.locator("main")).to_contain_text("revoke_api_keys")  # retried until it loads
    p.get_by_role("button", name="Close incident").click()
    p.locator("[data-code=closed]").wait_for()
    assert violations == []
    assert chat_status(gateway, secret) == 401  # the playbook revoked mallory's key
