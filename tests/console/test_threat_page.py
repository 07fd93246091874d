"""The threat model page: the tenant's own sources and controls, the boundaries and
failure modes, never another tenant's."""

from __future__ import annotations

from tests.console.test_routes import browser, session_for
from tests.e2e.conftest import Gateway


def test_an_analyst_sees_their_tenants_threat_model(gateway: Gateway) -> None:
    gateway.add_tenant("globex-secret-name", "default")
    (gateway.policies_dir / "default.toml").write_text(
        '[residency]\ninternal = ["*"]\nconfidential = ["eu-*"]\n'
    )
    with browser(gateway, session_for(gateway, "security_analyst")) as http:
        page = http.get("/console/threat-model")
    with browser(gateway, session_for(gateway, "member")) as http:
        member = http.get("/console/threat-model")
    assert page.status_code == 200
    for heading in ("Data inputs", "Residency map", "Trust boundaries", "Failure modes"):
        assert heading in page.text
    assert "model:gpt-test" in page.text and "gateway -&gt; upstream model" in page.text
    assert "globex-secret-name" not in page.text
    assert member.status_code == 403
