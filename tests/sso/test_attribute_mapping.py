"""The ``attributes`` mapping of ``[sso.oidc]`` and ``[sso.saml]``: checked at start,
and at sign-in only a mapped claim holding one valid string becomes an attribute."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bastion.identity.attributes import caller_params
from bastion.sso.attributes import map_attributes, validate_attribute_mapping
from bastion.sso.identity import SsoIdentity
from bastion.sso.oidc import OidcClient
from bastion.sso.oidc_config import parse_oidc_config
from bastion.sso.saml_config import parse_saml_config

OIDC = {
    "issuer": "https://idp.example.com",
    "client_id": "bastion",
    "client_secret_name": "idp",
}
SAML = {"idp_metadata_xml": "<EntityDescriptor/>"}


def saml(**table: Any) -> Any:
    return parse_saml_config({**SAML, **table}, public_url="https://b.example", tenant="acme")


def test_both_protocols_read_the_mapping() -> None:
    mapping = {"region": "region", "cost_center": "extension_costCenter"}
    assert dict(parse_oidc_config({**OIDC, "attributes": mapping}).attribute_mapping) == mapping
    assert dict(saml(attributes=mapping).attribute_mapping) == mapping
    assert dict(parse_oidc_config(OIDC).attribute_mapping) == {}


@pytest.mark.parametrize(
    ("mapping", "fragment"),
    [
        ({"role": "groups"}, "reserved"),
        ({"user_id": "sub"}, "reserved"),
        ({"user_email": "email"}, "reserved"),
        ({"Region": "region"}, "lowercase"),
        ({"region": ""}, "must name a claim"),
        ({"region": 3}, "must name a claim"),
        (["region"], "must be a table"),
    ],
)
def test_bad_mappings_fail_at_start(mapping: Any, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_oidc_config({**OIDC, "attributes": mapping})
    with pytest.raises(ValueError, match=fragment):
        saml(attributes=mapping)
    with pytest.raises(ValueError, match=fragment):
        validate_attribute_mapping(mapping, where="x")


def oidc_identity(claims: dict[str, Any]) -> SsoIdentity:
    """The identity OidcClient makes of verified claims (no network is used)."""
    client = OidcClient(parse_oidc_config(OIDC), "secret", http=None)  # type: ignore[arg-type]
    return client.identity({"sub": "u1", "email": "u@example.com", **claims}, email_required=True)


def test_oidc_claims() -> None:
    """One string: set. A list (even of one), a number, a boolean, too long: refused.
    Absent: removed too. Unmapped claims never appear."""
    identity = oidc_identity(
        {
            "region": "EU",
            "teams": ["red"],
            "level": 3,
            "admin": True,
            "long": "x" * 257,
            "unmapped": "y",
        }
    )
    mapping = {
        "region": "region",
        "team": "teams",
        "level": "level",
        "admin": "admin",
        "long": "long",
        "desk": "desk",
    }
    mapped = map_attributes(identity, mapping)
    assert dict(mapped.values) == {"region": "EU"}
    assert mapped.refused == ("admin", "level", "long", "team")
    assert mapped.absent == ("desk",)
    assert set(mapped.removed) == set(mapping) - {"region"}
    assert "EU" not in repr(identity)


def test_saml_attributes_with_several_values_are_refused() -> None:
    identity = SsoIdentity(
        idp="saml",
        subject="u1",
        email="u@example.com",
        authenticated_at=datetime.now(UTC),
        attributes={"region": ("EU",), "teams": ("red", "blue")},
    )
    mapped = map_attributes(identity, {"region": "region", "team": "teams"})
    assert (dict(mapped.values), mapped.refused) == ({"region": "EU"}, ("team",))


def test_caller_params_the_gateway_wins() -> None:
    """Reserved names come from the gateway even if a stored attribute had one."""
    params = caller_params({"region": "EU", "role": "owner", "user_email": "x"}, "a@b.c", "member")
    assert params == {"region": "EU", "user_email": "a@b.c", "role": "member"}
    assert caller_params({}, None, "viewer") == {"role": "viewer"}
