"""The console's browser harness: Debian's Chromium under Playwright (never
`playwright install`), the tenant's real OpenID provider, and a person's sign-in.
Fixtures ``page`` and ``sso`` (re-exported by this directory's conftest), and
``db_url`` for browser modules to import: SQLite only. What the browser shows is the
same on either backend; each page's HTTP tests run on both."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from bastion.console.pages import CAPABILITIES, visible_pages
from bastion.console.pages import Page as ConsolePage
from bastion.crypto import Keyring, LocalKeyProvider
from bastion.secrets import SecretStore
from tests.conftest import need_service, sqlite_copy
from tests.e2e.conftest import TEST_KEK, Gateway
from tests.sso.oidc_provider import DEFAULT_ACCOUNTS, Account, OidcProvider, missing_programs

__all__ = [
    "SHOTS",
    "at_oidc_provider",
    "csp_violations",
    "db_url",
    "page",
    "pages_of",
    "sign_in",
    "sso",
]

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
def db_url(tmp_path: Path, migrated_templates: dict[str, str]) -> str:
    """The browser tests' database: a copy of the migrated SQLite template (a module
    that imports this overrides the two-backend ``db_url``)."""
    return sqlite_copy(tmp_path, migrated_templates)


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
    at_oidc_provider(p, gateway, account)


def at_oidc_provider(page: Page, gateway: Gateway, account: str) -> None:
    """The OpenID provider's login and consent pages (not ours), and back to the console."""
    p = page
    p.fill("input[name=login]", account)
    p.fill("input[name=password]", "any")
    p.click("button[type=submit]")
    p.click("button[type=submit]")  # consent
    home = f"{gateway.base_url}/console"
    p.wait_for_url(lambda url: url.startswith(home) and "/login" not in url)


def csp_violations(page: Page, origin: str) -> list[str]:
    """The Content Security Policy violations that pages of ``origin`` report from now
    on, as the DOM's ``securitypolicyviolation`` events (directive and blocked URI)
    and as console messages: a list that fills while the test runs."""
    seen: list[str] = []

    def event(source: object, document: str, report: str) -> None:
        if document.startswith(origin):
            seen.append(f"{document}: {report}")

    def message(m: ConsoleMessage) -> None:
        if "Content Security Policy" in m.text and page.url.startswith(origin):
            seen.append(f"{page.url}: {m.text}")

    page.expose_binding("bastionCspViolation", event)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e =>"
        " window.bastionCspViolation(e.documentURI, e.violatedDirective + ' ' + e.blockedURI));"
    )
    page.on("console", message)
    return seen


def pages_of(role: str) -> list[ConsolePage]:
    """The console pages ``role`` sees on the test gateway (it has every capability)."""
    return visible_pages(role, frozenset(CAPABILITIES))
