"""The console in a real browser (Debian's Chromium, driven by Playwright): sign in
through the tenant's real OpenID provider, see the overview, keyboard navigation, no
Content Security Policy violation; a member's role has no console page. Screenshots go
to docs/console/ (shown in the README)."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.console.browser import SHOTS, db_url, sign_in  # noqa: F401 (db_url: SQLite only)
from tests.e2e.conftest import Gateway
from tests.sso.oidc_provider import OidcProvider


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


def test_a_member_sees_only_the_pages_of_a_member(
    gateway: Gateway, sso: OidcProvider, page: Page
) -> None:
    p = page
    sign_in(p, gateway, "dana")
    shown = {link.inner_text() for link in p.locator("nav a").all()}
    assert shown == {"Keys and sessions", "Data sources"}  # keys.own, datasources.use
    p.goto(f"{gateway.base_url}/console/overview")
    assert "may not see Overview" in p.inner_text("main")
