"""SAML sign-in to the console in a real browser (Debian's Chromium under Playwright)
against a real SAML IdP (SimpleSAMLphp on loopback): the organisation's name, the
IdP's login form, and back on the console with the role the tenant's mapping gives,
its pages in the navigation, and no Content Security Policy violation on the way."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.browser import csp_violations, db_url, pages_of  # noqa: F401 (db_url: SQLite only)
from tests.e2e import test_sso_saml
from tests.e2e.conftest import Gateway
from tests.sso.saml_fixtures import ALICE
from tests.sso.saml_idp import RunningIdp

idp = test_sso_saml.idp  # the fixture: acme's policy signs in through SimpleSAMLphp


def test_an_admin_signs_in_to_the_console_through_the_saml_idp(
    gateway: Gateway, idp: RunningIdp, page: Page
) -> None:
    """alice is in the IdP's bastion-admins group, which the policy maps to admin."""
    p = page
    violations = csp_violations(p, gateway.base_url)
    p.goto(f"{gateway.base_url}/console")
    assert p.url == f"{gateway.base_url}/console/login"
    p.fill("#tenant", "acme")
    p.get_by_role("button", name="Continue").click()

    p.wait_for_url(lambda url: url.startswith(idp.base_url))  # SimpleSAMLphp's form
    p.fill("input[name=username]", ALICE.username)
    p.fill("input[name=password]", ALICE.password)
    p.click("#submit_button")  # its answer posts itself to our ACS URL

    home = f"{gateway.base_url}/console/"
    p.wait_for_url(lambda url: url.startswith(home) and "/login" not in url)
    admin = pages_of("admin")
    assert p.url == f"{gateway.base_url}{admin[0].path}"
    expect(p.locator("header .who")).to_contain_text("alice@example.com · admin · acme")
    nav = [link.inner_text() for link in p.locator("nav a").all()]
    assert nav == [each.title for each in admin]
    for shown in admin[1:]:
        p.get_by_role("link", name=shown.title, exact=True).click()
        expect(p.locator("h1")).to_contain_text(shown.title)
    assert violations == []
