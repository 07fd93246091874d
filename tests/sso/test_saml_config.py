"""``[sso.saml]`` parsing and SAML provider start-up: near misses fail with the key named,
and nothing insecure is configurable (no IdP needed)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bastion.sso.saml import ERROR_CODES, MemoryReplayStore, SamlError, SamlServiceProvider
from bastion.sso.saml_config import SamlConfig, load_idp_metadata, parse_saml_config
from tests.sso.saml_idp import make_key_pair

PUBLIC = "https://bastion.example.test"
CERT = make_key_pair("config-test-idp").cert_base64


def idp_metadata(*entity_ids: str, redirect: bool = True, cert: bool = True) -> str:
    """Metadata listing IdPs with a signing certificate and an HTTP-Redirect endpoint."""
    binding = "HTTP-Redirect" if redirect else "HTTP-POST"
    key = (
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{CERT}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
    )
    entities = "".join(
        f'<md:EntityDescriptor entityID="{entity}"><md:IDPSSODescriptor '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{key if cert else ''}<md:SingleSignOnService "
        f'Binding="urn:oasis:names:tc:SAML:2.0:bindings:{binding}" '
        f'Location="{entity}/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>'
        for entity in entity_ids
    )
    return (
        '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#">{entities}</md:EntitiesDescriptor>'
    )


ONE_IDP = idp_metadata("https://idp.example.test")


def parse(**table: Any) -> SamlConfig:
    return parse_saml_config(
        {"idp_metadata_xml": ONE_IDP, **table}, public_url=PUBLIC, tenant="acme"
    )


def test_defaults_are_the_safe_ones() -> None:
    """Both signatures wanted, no unsolicited login, SP URLs under the public URL."""
    config = parse()
    assert config.want_assertions_signed and config.want_response_signed
    assert not config.allow_unsolicited
    assert config.sp_entity_id == f"{PUBLIC}/sso/acme/saml/metadata"
    assert config.acs_url == f"{PUBLIC}/sso/acme/saml/acs"
    assert config.clock_skew == timedelta(seconds=60)
    assert (config.groups_attribute, config.email_attribute) == ("groups", "email")
    assert "EntityDescriptor" not in repr(config)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"colour": "blue"}, "colour"),
        ({"want_assertions_signed": False, "want_response_signed": False}, "want_response_signed"),
        ({"want_response_signed": "no"}, "want_response_signed"),
        ({"allow_unsolicited": 1}, "allow_unsolicited"),
        ({"clock_skew_seconds": 301}, "clock_skew_seconds"),
        ({"clock_skew_seconds": -1}, "clock_skew_seconds"),
        ({"clock_skew_seconds": True}, "clock_skew_seconds"),
        ({"clock_skew_seconds": 1.5}, "clock_skew_seconds"),
        ({"groups_attribute": ""}, "groups_attribute"),
        ({"email_attribute": 3}, "email_attribute"),
        ({"sp_key_file": "/nonexistent/sp.key"}, "sp_key_file"),
        ({"idp_metadata_xml": ""}, "idp_metadata_xml"),
    ],
)
def test_bad_values_name_the_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=rf"\[sso\.saml\] {key}:"):
        parse(**table)


def test_key_without_certificate_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "sp.key"
    key.write_text("not read at parse time")
    with pytest.raises(ValueError, match="sp_key_file"):
        parse(sp_key_file=str(key))


@pytest.mark.parametrize(
    "table",
    [
        {},
        {"idp_metadata_xml": ONE_IDP, "idp_metadata_url": "https://idp.example.test/md"},
    ],
)
def test_exactly_one_metadata_source(table: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="idp_metadata_url: set exactly one"):
        parse_saml_config(table, public_url=PUBLIC, tenant="acme")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://idp.example.test/metadata", True),
        ("http://127.0.0.1:8080/metadata", True),
        ("http://localhost/metadata", True),
        ("http://idp.example.test/metadata", False),
        ("http://127.0.0.1.example.test/metadata", False),
        ("ftp://idp.example.test/metadata", False),
        ("https://user:pw@idp.example.test/metadata", False),
        ("/relative/metadata", False),
    ],
)
def test_metadata_url_must_be_https_off_loopback(url: str, ok: bool) -> None:
    table = {"idp_metadata_url": url}
    if ok:
        assert parse_saml_config(table, public_url=PUBLIC, tenant="t").idp_metadata_url == url
    else:
        with pytest.raises(ValueError, match="idp_metadata_url"):
            parse_saml_config(table, public_url=PUBLIC, tenant="t")


def test_metadata_file_is_read_at_parse(tmp_path: Path) -> None:
    path = tmp_path / "idp.xml"
    path.write_text(ONE_IDP)
    config = parse_saml_config({"idp_metadata_file": str(path)}, public_url=PUBLIC, tenant="a")
    assert config.idp_metadata_xml == ONE_IDP
    missing = {"idp_metadata_file": str(tmp_path / "missing.xml")}
    with pytest.raises(ValueError, match="idp_metadata_file: is not a readable file"):
        parse_saml_config(missing, public_url=PUBLIC, tenant="a")


@pytest.mark.parametrize("tenant", ["", "a/b", "../x", "a b", "-x"])
def test_tenant_must_be_a_path_segment(tenant: str) -> None:
    with pytest.raises(ValueError, match="tenant"):
        parse_saml_config({"idp_metadata_xml": ONE_IDP}, public_url=PUBLIC, tenant=tenant)


def test_public_url_must_be_https_off_loopback() -> None:
    with pytest.raises(ValueError, match="public_url"):
        parse_saml_config({"idp_metadata_xml": ONE_IDP}, public_url="http://x.test", tenant="a")


def provider(config: SamlConfig) -> SamlServiceProvider:
    return SamlServiceProvider(config, MemoryReplayStore())


def test_one_idp_is_picked_from_metadata() -> None:
    assert provider(parse()).idp_entity_id == "https://idp.example.test"


def test_several_idps_need_idp_entity_id() -> None:
    """Federation metadata: the IdP to trust must be named, and must be in it."""
    many = idp_metadata("https://a.example.test", "https://b.example.test")
    with pytest.raises(ValueError, match="idp_entity_id: the metadata lists 2 IdPs"):
        provider(parse(idp_metadata_xml=many))
    with pytest.raises(ValueError, match="idp_entity_id: not an IdP"):
        provider(parse(idp_metadata_xml=many, idp_entity_id="https://c.example.test"))
    chosen = provider(parse(idp_metadata_xml=many, idp_entity_id="https://b.example.test"))
    assert chosen.idp_entity_id == "https://b.example.test"
    url, _ = chosen.begin("")
    assert url.startswith("https://b.example.test/sso?SAMLRequest=")


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        (idp_metadata("https://idp.example.test", cert=False), "no signing certificate"),
        (idp_metadata("https://idp.example.test", redirect=False), "no HTTP-Redirect"),
        ("<not metadata", "cannot load"),
    ],
)
def test_unusable_idp_metadata_fails_at_start(metadata: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        provider(parse(idp_metadata_xml=metadata))


def test_unfetched_metadata_url_fails_at_start() -> None:
    config = parse_saml_config(
        {"idp_metadata_url": "https://idp.example.test/md"}, public_url=PUBLIC, tenant="a"
    )
    with pytest.raises(ValueError, match="load_idp_metadata"):
        provider(config)


async def test_load_idp_metadata_keeps_inline_metadata() -> None:
    config = parse()
    assert await load_idp_metadata(config) is config


def test_relay_state_is_limited_to_80_bytes() -> None:
    sp = provider(parse())
    sp.begin("x" * 80)
    with pytest.raises(ValueError, match="80 bytes"):
        sp.begin("x" * 81)


def test_request_ids_are_fresh() -> None:
    sp = provider(parse())
    ids = {sp.begin("")[1] for _ in range(20)}
    assert len(ids) == 20


def test_saml_error_reprs_are_fixed_text() -> None:
    error = SamlError("the SAML assertion has expired", "expired")
    assert (error.code, str(error)) == ("expired", "the SAML assertion has expired")
    assert "expired" in ERROR_CODES
    with pytest.raises(ValueError, match="unknown SAML error code"):
        SamlError("x", "not-a-code")
