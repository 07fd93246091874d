"""The audit log page in a real browser (Debian's Chromium under Playwright): an admin
signs in through the tenant's OpenID provider, sees the chain verified, searches in
place (htmx), opens a record and reads its content; no Content Security Policy
violation. Screenshots: docs/console/audit.png and audit-record.png."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.browser import SHOTS, db_url, sign_in  # noqa: F401 (db_url: SQLite only)
from tests.e2e.conftest import Gateway
from tests.sso.oidc_provider import OidcProvider


def test_an_admin_searches_the_audit_log_and_reads_a_record(
    gateway: Gateway, sso: OidcProvider, page: Page
) -> None:
    client = gateway.openai()
    for text in ("summarise the onboarding guide", "draft a reply to the supplier"):
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": text}]
        )
    p = page
    violations: list[str] = []
    p.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sign_in(p, gateway, "alice")
    p.click("nav >> text=Audit log")
    p.wait_for_url(f"{gateway.base_url}/console/audit")
    assert p.inner_text("h1") == "Audit log"
    p.wait_for_selector("#chain.ok")  # loaded by htmx
    assert "Chain verified" in p.inner_text("#chain")
    rows_before = p.locator("#results tbody tr").count()
    assert rows_before >= 3  # the two chats and the sign-in

    p.fill("#route", "/v1/chat/completions")
    p.fill("#user", "alice@acme.test")
    p.click("form.audit-search button[type=submit]")
    p.wait_for_url(lambda url: "route=%2Fv1%2Fchat" in url)  # swapped in place, URL pushed
    expect(p.locator("#results tbody tr")).to_have_count(2)
    results = p.inner_text("#results")
    assert "alice@acme.test" in results and "allowed" in results
    assert "onboarding" not in results  # metadata only
    p.screenshot(path=str(SHOTS / "audit.png"), full_page=True)

    p.click("#results tbody tr:last-child a")
    p.wait_for_url(lambda url: "/console/audit/" in url)
    assert p.inner_text("h1").startswith("Record #")
    assert "onboarding" not in p.inner_text("main")
    p.click("text=Show content")
    p.wait_for_selector("#content-body pre")
    content = p.inner_text("#content-body")
    assert "summarise the onboarding guide" in content
    assert "Happy to help. You said: summarise the onboarding guide" in content
    p.screenshot(path=str(SHOTS / "audit-record.png"), full_page=True)
    assert violations == []
