"""SAML sign-in through the gateway against a real SAML IdP (SimpleSAMLphp on
loopback): metadata, a session with the mapped role, and a replayed or foreign
response refused and audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bastion.sessions import COOKIE_NAME
from tests.conftest import need_service
from tests.e2e.conftest import Gateway
from tests.sso.saml_fixtures import ALICE, IdpAnswer, browser_login
from tests.sso.saml_idp import IdpUser, RunningIdp, SpEntry, missing_programs, running_idp

POLICY = """
[sso.saml]
idp_metadata_url = "{metadata_url}"
role_mapping = {{ "bastion-admins" = "admin" }}
jit = true
"""
MALLORY = IdpUser("mallory", "mallory-password", {"uid": ["mallory"], "email": ["m@x.test"]})


@pytest.fixture
def idp(gateway: Gateway, tmp_path: Path) -> Iterator[RunningIdp]:
    missing = missing_programs()
    need_service(f"SimpleSAMLphp and xmlsec1 (missing: {', '.join(missing)})", not missing)
    sp = SpEntry(
        f"{gateway.base_url}/sso/acme/saml/metadata", f"{gateway.base_url}/sso/acme/saml/acs"
    )
    with running_idp(tmp_path / "idp", sps=[sp], users=[ALICE, MALLORY]) as running:
        (gateway.policies_dir / "corp.toml").write_text(
            POLICY.format(metadata_url=running.metadata_url)
        )
        with gateway.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE tenants SET policy = 'corp' WHERE name = 'acme'")
        yield running


def at_idp(browser: httpx.Client, user: IdpUser = ALICE) -> IdpAnswer:
    begin = browser.get("/sso/acme/saml/login?return_to=/admin/me")
    assert begin.status_code == 302
    return browser_login(begin.headers["location"], user)


def post_acs(browser: httpx.Client, answer: IdpAnswer) -> httpx.Response:
    return browser.post(
        "/sso/acme/saml/acs",
        data={"SAMLResponse": answer.saml_response, "RelayState": answer.relay_state},
    )


def test_metadata_and_sign_in(gateway: Gateway, idp: RunningIdp) -> None:
    metadata = httpx.get(f"{gateway.base_url}/sso/acme/saml/metadata", timeout=30)
    assert metadata.status_code == 200
    assert f"{gateway.base_url}/sso/acme/saml/acs" in metadata.text
    with httpx.Client(base_url=gateway.base_url, timeout=30) as browser:
        answer = at_idp(browser)
        assert answer.action == f"{gateway.base_url}/sso/acme/saml/acs"
        landed = post_acs(browser, answer)
        assert landed.status_code == 302 and landed.headers["location"] == "/admin/me"
        assert landed.cookies.get(COOKIE_NAME)
        me = browser.get("/admin/me").json()
        assert (me["email"], me["role"], me["via"]) == ("alice@example.com", "admin", "session")


def test_replayed_foreign_and_unmapped_responses_are_refused(
    gateway: Gateway, idp: RunningIdp
) -> None:
    with httpx.Client(base_url=gateway.base_url, timeout=30) as browser:
        answer = at_idp(browser)
        with httpx.Client(base_url=gateway.base_url, timeout=30) as attacker:
            assert post_acs(attacker, answer).status_code == 401  # not the browser that began
        assert post_acs(browser, answer).status_code == 302
        replayed = post_acs(browser, answer)
        assert replayed.status_code == 401 and "alice" not in replayed.text
        tampered = at_idp(browser)
        raw = tampered.saml_response
        flipped = raw[:200] + ("A" if raw[200] != "A" else "B") + raw[201:]
        assert post_acs(browser, IdpAnswer(flipped, tampered.relay_state, "")).status_code == 401
        assert post_acs(browser, at_idp(browser, MALLORY)).status_code == 401  # no role
    bodies = [json.loads(b) for b in gateway.audit_bodies()]
    refused = [b["error_code"] for b in bodies if b["outcome"] == "sign_in_refused"]
    assert refused[0] == "bad_state" and refused[-1] == "no_role" and len(refused) == 4
    assert len([b for b in bodies if b["outcome"] == "signed_in"]) == 1
    assert gateway.verify().ok


def test_a_malformed_acs_post_is_a_clear_error(gateway: Gateway) -> None:
    """Too many fields or no body: 400 invalid_request, never a server error."""
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        crowded = http.post("/sso/acme/saml/acs", content="&".join(f"f{i}=x" for i in range(50)))
        assert crowded.status_code == 400
        assert crowded.json()["error"]["code"] == "invalid_request"
        assert http.post("/sso/acme/saml/acs").status_code == 400
        unknown = http.post("/sso/nosuch/saml/acs", data={"SAMLResponse": "x", "RelayState": "y"})
        assert unknown.status_code == 404
