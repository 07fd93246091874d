"""Every console route against every role, pages and actions alike: the server, not
the navigation, decides. The table names the permission each route needs; a console
route missing from it fails the test, so a new page or action cannot land without a
row. Sessions are fresh (step-up satisfied) and carry the CSRF token, so the only
thing that can refuse is the role; ids are well formed but name nothing, so an
allowed role changes nothing either."""

from __future__ import annotations

import re

import pytest

from bastion.authz import ROLES, allowed
from bastion.console.pages import PAGES
from tests.console.test_routes import browser, session_for
from tests.e2e.conftest import Gateway

# Sign-in and sign-out need no role (tests/console/test_routes.py, test_break_glass.py).
NO_ROLE = {
    ("GET", "/console"),
    ("GET", "/console/login"),
    ("GET", "/console/login/start"),
    ("POST", "/console/login/break-glass"),
    ("POST", "/console/logout"),
}
TABLE: dict[tuple[str, str], str] = {
    **{("GET", page.path): page.permission for page in PAGES},
    ("GET", "/console/audit/export"): "audit.export",
    ("GET", "/console/audit/verify"): "audit.verify",
    ("GET", "/console/audit/{seq}"): "audit.read",
    ("POST", "/console/audit/{seq}/content"): "audit.export",  # sealed content
    ("POST", "/console/approvals/{action_id}/approve"): "actions.approve",
    ("POST", "/console/approvals/{action_id}/reject"): "actions.approve",
    ("GET", "/console/incidents/{incident_id}"): "incidents.read",
    ("POST", "/console/incidents/run"): "incidents.respond",
    ("POST", "/console/incidents/{incident_id}/close"): "incidents.respond",
    ("POST", "/console/incidents/isolations/release"): "incidents.respond",
    ("POST", "/console/keys"): "keys.own",
    ("POST", "/console/keys/{key_id}/revoke"): "keys.own",
    ("POST", "/console/keys/sessions/{session_id}/end"): "sessions.own",
    ("POST", "/console/policy"): "policies.write",
    ("POST", "/console/policy/dry-run"): "policies.read",
    ("POST", "/console/sources/try"): "datasources.use",
    ("POST", "/console/sources/{source_id}/shares"): "datasources.use",
    ("POST", "/console/sources/{source_id}/shares/remove"): "datasources.use",
}
# Well formed, naming nothing.
IDS = {
    "seq": "999999",
    "action_id": "00000000-0000-4000-8000-000000000000",
    "incident_id": "inc_0000000000000000",
    "key_id": "key_0000000000000000",
    "session_id": "ses_0000000000000000",
    "source_id": "src_0000000000000000",
}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: IDS[m.group(1)], path)


def test_the_table_names_every_console_route(gateway: Gateway) -> None:
    console = {r for r in gateway.routes if r[1].startswith("/console")}
    assert console - NO_ROLE == set(TABLE), "a console route without a row in TABLE"


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_console_route_against_every_role(gateway: Gateway, role: str) -> None:
    with browser(gateway, session_for(gateway, role)) as http:
        # Every console page carries the session's CSRF token, a refusal page too.
        frame = http.get("/console/overview").text
        csrf = frame.split('"X-CSRF-Token": "', 1)[1].split('"', 1)[0]
        for (method, path), permission in sorted(TABLE.items()):
            where = (role, method, path)
            if method == "GET":
                answer = http.get(concrete(path))
                if allowed(role, permission):
                    assert answer.status_code in (200, 404), where
                else:
                    assert answer.status_code == 403 and "may not" in answer.text, where
                continue
            answer = http.post(
                concrete(path),
                headers={"x-csrf-token": csrf, "hx-request": "true"},
                data={"name": "", "policy": "", "sql": "", "prompt": ""},
            )
            assert answer.status_code in (200, 204), where
            refused = 'data-code="permission_denied"' in answer.text
            assert refused != allowed(role, permission), where
            assert 'data-code="step_up"' not in answer.text, where
