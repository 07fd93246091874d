"""The console in a real browser (Debian's Chromium, driven by Playwright): sign in
through the tenant's real OpenID provider, see the overview, keyboard navigation, no
Content Security Policy violation; a member's role has no console page. Screenshots go
to docs/console/ (shown in the README)."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.secrets import SecretStore
from tests.conftest import need_service
from tests.e2e.conftest import TEST_KEK, Gateway
from tests.sso.oidc_provider import DEFAULT_ACCOUNTS, Account, OidcProvider, missing_programs

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).parents[2] / "docs" / "console"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
POLICY = """
[sso.oidc]
issuer = "{issuer}"
client_id = "bastion"
client_secret_name = "corp-idp"
scopes = ["openid", "email", "profile", "groups"]
allow_insecure_loopback = true
role_mapping = {{ "bastion-admins" = "admin" }}
default_role = "member"
jit = true
"""


@pytest.fixture
def page() -> Iterator[Page]:
    need_service("Chromium (apt install chromium)", shutil.which(CHROMIUM) is not None)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


@pytest.fixture
def sso(gateway: Gateway) -> Iterator[OidcProvider]:
    need_service("node and npm (the OIDC provider)", not missing_programs())
    accounts = {**DEFAULT_ACCOUNTS, "dana": Account("dana@example.com", True, "Dana", ("eng",))}
    redirect = f"{gateway.base_url}/sso/acme/oidc/callback"
    with OidcProvider(redirect_uri=redirect, accounts=accounts) as op:
        (gateway.policies_dir / "corp.toml").write_text(POLICY.format(issuer=op.issuer))
        with gateway.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE tenants SET policy = 'corp' WHERE name = 'acme'")
        keyring = Keyring(
            gateway.engine, LocalKeyProvider(base64.b64decode(TEST_KEK)), lambda: datetime.now(UTC)
        )
        SecretStore(gateway.engine, keyring, lambda: datetime.now(UTC)).put(
            "corp-idp", op.client_secret, kind="idp_client_secret", tenant_id=gateway.tenant_id
        )
        yield op


def sign_in(page: Page, gateway: Gateway, account: str) -> None:
    """Everything a person does: the console, the organisation, the IdP's login and
    consent pages, and back."""
    p = page
    p.goto(f"{gateway.base_url}/console")
    p.fill("#tenant", "acme")
    p.click("button[type=submit]")
    p.fill("input[name=login]", account)
    p.fill("input[name=password]", "any")
    p.click("button[type=submit]")
    p.click("button[type=submit]")  # consent
    home = f"{gateway.base_url}/console"
    p.wait_for_url(lambda url: url.startswith(home) and "/login" not in url)


def test_an_admin_signs_in_through_the_idp_and_sees_the_overview(
    gateway: Gateway, sso: OidcProvider, page: Page
) -> None:
    client = gateway.openai()
    for text in ("hello", "what can you do?"):
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": text}]
        )
    p = page
    violations: list[str] = []
    p.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    p.goto(f"{gateway.base_url}/console")
    assert p.url.endswith("/console/login")
    p.screenshot(path=str(SHOTS / "login.png"))
    sign_in(p, gateway, "alice")
    assert p.url.endswith("/console/overview")
    assert p.inner_text("h1").startswith("Overview")
    assert "alice@example.com" in p.inner_text("header")
    tiles = p.inner_text(".tiles")
    assert int(tiles.split("\n")[0]) >= 3  # the two chats and the sign-in itself
    p.screenshot(path=str(SHOTS / "overview.png"), full_page=True)
    p.keyboard.press("Tab")
    focused = p.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"  # the first stop a keyboard user meets
    p.set_viewport_size({"width": 1920, "height": 1080})
    assert p.is_visible("nav a[aria-current=page]")
    assert violations == []
    p.click("text=Sign out")
    p.wait_for_url(f"{gateway.base_url}/console/login")
    p.goto(f"{gateway.base_url}/console/overview")
    assert p.url.endswith("/console/login")


def test_a_member_has_no_console_page(gateway: Gateway, sso: OidcProvider, page: Page) -> None:
    p = page
    sign_in(p, gateway, "dana")
    assert "no console pages" in p.inner_text("main")
    p.goto(f"{gateway.base_url}/console/overview")
    assert "may not see Overview" in p.inner_text("main")
