"""Pages appear only for capabilities that exist: a gateway without a keyring has no
agent actions and no data sources, so no role sees Approvals or Data sources, and the
server answers 404 for them (not a broken page)."""

from __future__ import annotations

import pytest

from bastion.authz import allowed
from bastion.console.pages import PAGES, page_named
from tests.console.test_routes import browser, session_for
from tests.e2e.conftest import Gateway

MISSING = {page_named("approvals"), page_named("sources")}


@pytest.fixture
def gateway_extra_settings() -> dict[str, object]:
    return {"kek": None}


@pytest.mark.parametrize("role", ["owner", "security_analyst", "approver"])
def test_pages_of_missing_capabilities_are_not_shown_or_served(gateway: Gateway, role: str) -> None:
    with browser(gateway, session_for(gateway, role)) as http:
        home = http.get("/console")
        first = http.get(home.headers["location"])
        answers = {page: http.get(page.path) for page in PAGES}
        approve = http.post(
            "/console/approvals/act_0123456789abcdef0123456789abcdef/approve",
            headers={"x-csrf-token": first.text.split('"X-CSRF-Token": "', 1)[1].split('"')[0]},
        )
    assert home.status_code == 303
    nav = first.text.split("<nav", 1)[1].split("</nav>", 1)[0]
    for page in MISSING:
        assert answers[page].status_code == 404, (role, page.path)
        assert "not available on this gateway" in answers[page].text
        assert f'href="{page.path}"' not in nav
    assert all(answers[p].status_code in (200, 403) for p in PAGES if p not in MISSING)
    # An action of a missing capability says so (a fragment), and changes nothing.
    assert approve.status_code == 200
    if allowed(role, "actions.approve"):
        assert "not available on this gateway" in approve.text
    else:
        assert 'data-code="permission_denied"' in approve.text
