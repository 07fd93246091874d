"""The posture page: the checklist for the caller's own tenant (no other tenant's name
or chain), the same checks as ``bastion posture``."""

from __future__ import annotations

from tests.console.test_routes import browser, session_for
from tests.e2e.conftest import Gateway


def test_an_analyst_sees_the_checklist_for_their_tenant_only(gateway: Gateway) -> None:
    gateway.add_tenant("globex-secret-name", "default")
    with browser(gateway, session_for(gateway, "security_analyst")) as http:
        page = http.get("/console/posture")
    assert page.status_code == 200
    text = page.text
    for title in ("Encryption at rest", "Single sign-on configured", "Audit log enabled"):
        assert title in text
    assert "tenants without [sso]: acme" in text  # this tenant's own item
    assert "globex-secret-name" not in text  # never another tenant's
    assert '<span class="status fail">FAIL</span>' in text  # no SSO, no red team: it says so
