"""Edit the tenant's policy in the browser and see a prompt blocked: the admin signs in
through the IdP, dry-runs the change on sample prompts, saves it, and the API refuses
the prompt the new rule blocks."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page

from tests.console.browser import SHOTS, db_url, sign_in  # noqa: F401 (db_url: SQLite only)
from tests.e2e.conftest import Gateway
from tests.sso.oidc_provider import OidcProvider

BLOCK_EMAILS = '\n[scanners.pii.entities.EMAIL_ADDRESS]\nto_model = "block"\n'
EMAIL_PROMPT = "Write to dana.lopez@example.org about the renewal"


def chat(gateway: Gateway) -> int:
    return httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {gateway.key}"},
        json={"model": "gpt-test", "messages": [{"role": "user", "content": EMAIL_PROMPT}]},
        timeout=30,
    ).status_code


def test_edit_the_policy_and_see_a_prompt_blocked(
    gateway: Gateway, sso: OidcProvider, page: Page
) -> None:
    assert chat(gateway) == 200
    sign_in(page, gateway, "alice")
    page.click("nav >> text=Policy")
    page.wait_for_url(f"{gateway.base_url}/console/policy")
    current = page.input_value("#toml")
    assert "[sso.oidc]" in current  # the tenant's own policy, as it runs now
    page.fill("#toml", current + BLOCK_EMAILS)
    page.fill("#samples", f"Summarise the onboarding checklist\n{EMAIL_PROMPT}")
    page.click("button:has-text('Dry run')")
    page.wait_for_selector("#dry-run .decision.block")
    assert page.locator("#dry-run .decision.allow").count() == 1
    page.click("button:has-text('Validate and save')")
    page.wait_for_selector("#save-result [data-code=saved]")
    page.screenshot(path=str(SHOTS / "policy.png"), full_page=True)
    assert chat(gateway) == 400  # the API now refuses what the console's rule blocks
