"""Keys and data sources in a real browser: the admin signs in through the IdP,
creates a key (its secret shown once), revokes a key of the tenant and the API refuses
it at once; then tries a query on a data source and sees the guard's rewrite and the
masked rows. No Content Security Policy violation on the way. Screenshots
docs/console/keys.png and docs/console/sources.png."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import openai
import pytest
from playwright.sync_api import Page, expect

from bastion.identity.directory import Directory
from tests.console.browser import SHOTS, db_url, sign_in  # noqa: F401 (db_url: SQLite only)
from tests.console.test_sources_page import sales
from tests.e2e.conftest import Gateway
from tests.sso.oidc_provider import OidcProvider


@pytest.fixture
def gateway_extra_settings(tmp_path: Path) -> dict[str, object]:
    sources = tmp_path / "sources"
    sources.mkdir()
    return {"data_sources_sqlite_dir": sources}


def chat(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])


def test_an_admin_revokes_a_key_and_the_api_refuses_it(
    gateway: Gateway,
    gateway_extra_settings: dict[str, object],
    sso: OidcProvider,
    page: Page,
) -> None:
    client = gateway.openai()
    chat(client)  # the tenant's key works, and is in the gateway's cache
    p = page
    violations: list[str] = []
    p.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    p.on("dialog", lambda dialog: dialog.accept())  # the "Revoke the key?" confirmation
    sign_in(p, gateway, "alice")
    p.click("nav >> text=Keys and sessions")
    p.wait_for_url(f"{gateway.base_url}/console/keys")

    p.fill("#key-name", "laptop")
    p.fill("#key-days", "90")
    p.click("button:has-text('Create key')")
    p.wait_for_selector("#new-key-secret")
    secret = p.input_value("#new-key-secret")
    assert secret.startswith("bst_")
    expect(p.locator("#my-keys")).to_contain_text("laptop")

    directory = Directory(gateway.engine)
    theirs = next(k for k in directory.keys(gateway.tenant_id) if k.user_email == "alice@acme.test")
    p.click(f"button[aria-label='Revoke the key {theirs.prefix}']")
    p.wait_for_selector(f"#key-{theirs.id}-state .key-status.revoked")
    with pytest.raises(openai.AuthenticationError):
        chat(client)  # the very next call with the revoked key: 401

    p.reload()
    assert secret not in p.content()  # shown once
    assert p.inner_text(f"#key-{theirs.id}-state").strip() == "revoked"
    p.screenshot(path=str(SHOTS / "keys.png"), full_page=True)

    alice = next(u for u in directory.users(gateway.tenant_id) if u.email == "alice@example.com")
    bob = directory.add_user(gateway.tenant_id, "bob@example.com", "member", datetime.now(UTC))
    sales(gateway, gateway_extra_settings, [alice.id, bob.id])
    p.click("nav >> text=Data sources")
    p.wait_for_url(f"{gateway.base_url}/console/sources")
    p.fill("#try-sql", "SELECT id, owner, amount, email FROM orders ORDER BY id")
    p.click("button:has-text('Run as me')")
    p.wait_for_selector("#try-result [data-decision=ran]")
    result = p.inner_text("#try-result")
    assert "3 rows" in result and bob.id not in result and "***" in result
    p.screenshot(path=str(SHOTS / "sources.png"), full_page=True)
    assert violations == []
