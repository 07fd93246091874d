"""SAML 2.0 service provider against a real IdP (SimpleSAMLphp on loopback): the full
SP-initiated login, and one refusal per check, each proven with a response that passes
every other check."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from shutil import which
from typing import Any

import httpx
import pytest
from saml2 import md
from saml2.config import SPConfig
from saml2.mdstore import MetadataStore
from saml2.sigver import SignatureError, security_context

from bastion.sso.saml import MemoryReplayStore, SamlError, SamlServiceProvider
from bastion.sso.saml_config import load_idp_metadata, parse_saml_config
from tests.sso.saml_fixtures import (
    ASSERTION_UNSIGNED,
    NOTHING_SIGNED,
    PUBLIC_URL,
    RSA_SHA1,
    SHA1,
    SIGNED,
    SIGNED_REQUESTS,
    FakeClock,
    IdpAnswer,
    SamlWorld,
    acs_url,
    browser_login,
    entity_id,
    forms,
    resign,
    saml_config,
    saml_world,
)
from tests.sso.saml_idp import make_key_pair

MakeSp = Callable[..., SamlServiceProvider]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlWorld]:
    with saml_world(tmp_path_factory.mktemp("saml")) as running:
        yield running


@pytest.fixture
def saml_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_sp(world: SamlWorld, saml_clock: FakeClock) -> MakeSp:
    """``make_sp(tenant, public_url=..., metadata_xml=..., **[sso.saml] keys)``."""

    def make(tenant: str = SIGNED, **options: Any) -> SamlServiceProvider:
        config = saml_config(world, tenant, **options)
        return SamlServiceProvider(config, MemoryReplayStore(clock=saml_clock), clock=saml_clock)

    return make


def login(sp: SamlServiceProvider, relay_state: str = "") -> tuple[IdpAnswer, str]:
    """Log Alice in at the IdP for ``sp``: (what the browser posts, AuthnRequest id)."""
    url, request_id = sp.begin(relay_state)
    return browser_login(url), request_id


def refused(
    sp: SamlServiceProvider, saml_response: str, request_id: str | None, code: str
) -> SamlError:
    with pytest.raises(SamlError) as caught:
        sp.complete(saml_response, expected_request_id=request_id, tenant_id="t1")
    assert caught.value.code == code, caught.value
    return caught.value


def test_login_gives_the_identity_the_idp_asserted(make_sp: MakeSp) -> None:
    """SP-initiated login: NameID, email, name, groups and other attributes arrive."""
    sp = make_sp()
    answer, request_id = login(sp, relay_state="r-123")
    assert answer.action == acs_url(SIGNED)
    assert answer.relay_state == "r-123"
    identity = sp.complete(answer.saml_response, expected_request_id=request_id, tenant_id="t1")
    assert identity.idp == "saml"
    assert identity.subject == "alice"
    assert identity.email == "alice@example.com"
    assert identity.name == "Alice Example"
    assert identity.groups == ("engineering", "bastion-admins")
    assert identity.attributes["department"] == ("R&D",)
    assert "email" not in identity.attributes and "groups" not in identity.attributes
    assert identity.authenticated_at.utcoffset() == timedelta(0)
    assert "alice" not in repr(identity)


def test_groups_and_email_come_from_the_configured_attributes(make_sp: MakeSp) -> None:
    """groups_attribute and email_attribute pick which attributes fill the identity."""
    sp = make_sp(groups_attribute="department", email_attribute="missing")
    answer, request_id = login(sp)
    with pytest.raises(SamlError) as caught:
        sp.complete(answer.saml_response, expected_request_id=request_id, tenant_id="t1")
    assert caught.value.code == "missing_attribute"
    sp = make_sp(groups_attribute="department")
    answer, request_id = login(sp)
    identity = sp.complete(answer.saml_response, expected_request_id=request_id, tenant_id="t1")
    assert identity.groups == ("R&D",)


def test_replayed_response_is_refused(make_sp: MakeSp) -> None:
    """The same SAMLResponse (same assertion id) is accepted once per tenant."""
    sp = make_sp()
    answer, request_id = login(sp)
    sp.complete(answer.saml_response, expected_request_id=request_id, tenant_id="t1")
    refused(sp, answer.saml_response, request_id, "replayed")


def test_replay_store_forgets_ids_once_expired(saml_clock: FakeClock) -> None:
    """Ids are remembered until their expiry, per tenant, then dropped."""
    store = MemoryReplayStore(clock=saml_clock)
    until = saml_clock.now + timedelta(minutes=5)
    assert store.remember("t1", "id-1", until)
    assert not store.remember("t1", "id-1", until)
    assert store.remember("t2", "id-1", until)
    saml_clock.now = until
    assert store.remember("t1", "id-1", until + timedelta(minutes=5))


@pytest.mark.parametrize("expected", ["id-of-another-request", None])
def test_response_to_another_request_is_refused(make_sp: MakeSp, expected: str | None) -> None:
    """InResponseTo must be the id of the request this browser started."""
    sp = make_sp()
    answer, _ = login(sp)
    refused(sp, answer.saml_response, expected, "unsolicited")


def test_allow_unsolicited_still_refuses_a_solicited_response(make_sp: MakeSp) -> None:
    """IdP-initiated login, when enabled, never takes a response to someone's request."""
    sp = make_sp(allow_unsolicited=True)
    answer, _ = login(sp)
    refused(sp, answer.saml_response, None, "unsolicited")


def test_allow_unsolicited_accepts_a_response_without_in_response_to(
    make_sp: MakeSp, world: SamlWorld
) -> None:
    """With allow_unsolicited, a signed response without InResponseTo is accepted."""

    def drop_in_response_to(response: Any) -> None:
        response.in_response_to = None
        confirmation = response.assertion[0].subject.subject_confirmation[0]
        confirmation.subject_confirmation_data.in_response_to = None

    sp = make_sp(allow_unsolicited=True)
    answer, _ = login(sp)
    unsolicited = resign(
        answer.saml_response, world.idp.key_file, world.idp.cert_file, drop_in_response_to
    )
    identity = sp.complete(unsolicited, expected_request_id=None, tenant_id="t1")
    assert identity.email == "alice@example.com"
    refused(make_sp(), unsolicited, None, "unsolicited")


def test_wrong_audience_is_refused(make_sp: MakeSp, saml_clock: FakeClock) -> None:
    """An assertion for another SP entity id is refused."""
    answer, request_id = login(make_sp())
    other = make_sp(sp_entity_id="https://other.example.test/saml")
    refused(other, answer.saml_response, request_id, "wrong_audience")


def test_wrong_recipient_is_refused(make_sp: MakeSp) -> None:
    """A response whose Destination and Recipient are another ACS URL is refused."""
    answer, request_id = login(make_sp())
    other = make_sp(public_url="https://elsewhere.example.test", sp_entity_id=entity_id(SIGNED))
    refused(other, answer.saml_response, request_id, "wrong_recipient")


def test_expired_assertion_is_refused(make_sp: MakeSp, saml_clock: FakeClock) -> None:
    """Past NotOnOrAfter (plus the clock skew) the assertion is refused."""
    sp = make_sp()
    answer, request_id = login(sp)
    saml_clock.now += timedelta(minutes=10)
    refused(sp, answer.saml_response, request_id, "expired")


def test_assertion_from_the_future_is_refused(make_sp: MakeSp, saml_clock: FakeClock) -> None:
    """Before NotBefore / IssueInstant (minus the skew) the response is refused."""
    sp = make_sp()
    answer, request_id = login(sp)
    saml_clock.now -= timedelta(minutes=10)
    refused(sp, answer.saml_response, request_id, "not_yet_valid")


def test_tampered_attribute_is_refused(make_sp: MakeSp) -> None:
    """Changing one character of a signed attribute value breaks the signature."""
    sp = make_sp()
    answer, request_id = login(sp)
    xml = base64.b64decode(answer.saml_response)
    assert xml.count(b">engineering<") == 1
    tampered = base64.b64encode(xml.replace(b">engineering<", b">engineerinG<")).decode()
    refused(sp, tampered, request_id, "bad_signature")


def test_response_signed_by_another_key_is_refused(make_sp: MakeSp, world: SamlWorld) -> None:
    """Our metadata names another certificate than the one the IdP signs with."""
    other_cert = make_key_pair("not-the-idp").cert_base64
    metadata = world.idp.metadata_xml.replace(world.idp.keys.cert_base64, other_cert)
    assert metadata != world.idp.metadata_xml
    sp = make_sp(metadata_xml=metadata)
    answer, request_id = login(sp)
    refused(sp, answer.saml_response, request_id, "bad_signature")


def test_response_resigned_by_an_attacker_key_is_refused(
    make_sp: MakeSp, world: SamlWorld, tmp_path: Path
) -> None:
    """A well-formed response signed by a key not in metadata (with its own certificate
    embedded in KeyInfo) is refused."""
    attacker = make_key_pair("attacker")
    key_file, cert_file = tmp_path / "a.key", tmp_path / "a.crt"
    key_file.write_text(attacker.key_pem)
    cert_file.write_text(attacker.cert_pem)
    sp = make_sp()
    answer, request_id = login(sp)
    forged = resign(answer.saml_response, key_file, cert_file)
    refused(sp, forged, request_id, "bad_signature")


def test_unsigned_assertion_is_refused(make_sp: MakeSp) -> None:
    """The IdP signs only the response: refused while assertions must be signed."""
    sp = make_sp(ASSERTION_UNSIGNED)
    answer, request_id = login(sp)
    assert b"<ds:Signature" in base64.b64decode(answer.saml_response)
    refused(sp, answer.saml_response, request_id, "bad_signature")
    lenient = make_sp(ASSERTION_UNSIGNED, want_assertions_signed=False)
    answer, request_id = login(lenient)
    identity = lenient.complete(
        answer.saml_response, expected_request_id=request_id, tenant_id="t1"
    )
    assert identity.subject == "alice"


def test_unsigned_response_is_refused(make_sp: MakeSp) -> None:
    """Nothing signed: refused even when only one of the two signatures is wanted."""
    for options in ({}, {"want_assertions_signed": False}, {"want_response_signed": False}):
        sp = make_sp(NOTHING_SIGNED, **options)
        answer, request_id = login(sp)
        assert b"Signature" not in base64.b64decode(answer.saml_response)
        refused(sp, answer.saml_response, request_id, "bad_signature")


def test_signed_assertion_in_unsigned_response_needs_want_response_signed_false(
    make_sp: MakeSp, world: SamlWorld
) -> None:
    """want_response_signed (the default) refuses a response signed only inside."""
    sp = make_sp()
    answer, request_id = login(sp)
    inner = resign(
        answer.saml_response, world.idp.key_file, world.idp.cert_file, sign_response=False
    )
    refused(sp, inner, request_id, "bad_signature")
    lenient = make_sp(want_response_signed=False)
    answer, request_id = login(lenient)
    inner = resign(
        answer.saml_response, world.idp.key_file, world.idp.cert_file, sign_response=False
    )
    assert lenient.complete(inner, expected_request_id=request_id, tenant_id="t1").email


def test_sha1_signatures_are_refused(make_sp: MakeSp, world: SamlWorld) -> None:
    """A valid RSA-SHA1 signature by the IdP's own key is refused as weak."""
    sp = make_sp()
    answer, request_id = login(sp)
    weak = resign(
        answer.saml_response,
        world.idp.key_file,
        world.idp.cert_file,
        sign_alg=RSA_SHA1,
        digest_alg=SHA1,
    )
    refused(sp, weak, request_id, "bad_signature")


def _without_audience(response: Any) -> None:
    response.assertion[0].conditions.audience_restriction = []


def _other_subject_recipient(response: Any) -> None:
    confirmation = response.assertion[0].subject.subject_confirmation[0]
    confirmation.subject_confirmation_data.recipient = "https://evil.example.test/acs"


def _other_subject_in_response_to(response: Any) -> None:
    confirmation = response.assertion[0].subject.subject_confirmation[0]
    confirmation.subject_confirmation_data.in_response_to = "id-someone-else"


def _without_destination(response: Any) -> None:
    response.destination = None


def _other_issuer(response: Any) -> None:
    response.issuer.text = response.assertion[0].issuer.text = "https://evil.example.test/idp"


def _two_authn_statements(response: Any) -> None:
    statements = response.assertion[0].authn_statement
    statements.append(statements[0])


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        (_without_audience, "wrong_audience"),
        (_other_subject_recipient, "wrong_recipient"),
        (_other_subject_in_response_to, "unsolicited"),
        (_without_destination, "wrong_recipient"),
        (_other_issuer, "bad_signature"),
        (_two_authn_statements, "bad_response"),
    ],
)
def test_checks_pysaml2_skips_are_enforced(
    make_sp: MakeSp, world: SamlWorld, edit: Callable[[Any], None], code: str
) -> None:
    """Responses validly signed by the IdP's key but wrong in one respect are refused."""
    sp = make_sp()
    answer, request_id = login(sp)
    edited = resign(answer.saml_response, world.idp.key_file, world.idp.cert_file, edit)
    refused(sp, edited, request_id, code)


def test_control_resigned_response_is_accepted(make_sp: MakeSp, world: SamlWorld) -> None:
    """The re-signing helper itself yields acceptable responses (so refusals above are
    the checks' doing)."""
    sp = make_sp()
    answer, request_id = login(sp)
    same = resign(answer.saml_response, world.idp.key_file, world.idp.cert_file)
    assert sp.complete(same, expected_request_id=request_id, tenant_id="t1").subject == "alice"


@pytest.mark.parametrize("garbage", ["", "not base64!", base64.b64encode(b"<x/>").decode()])
def test_garbage_is_a_bad_response(make_sp: MakeSp, garbage: str) -> None:
    refused(make_sp(), garbage, "id-1", "bad_response")


def test_errors_and_logs_carry_no_assertion_content(
    make_sp: MakeSp, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither the error nor any log record names the user, an attribute or XML."""
    caplog.set_level(logging.DEBUG)
    sp = make_sp()
    answer, request_id = login(sp)
    xml = base64.b64decode(answer.saml_response).replace(b">engineering<", b">engineerinG<")
    error = refused(sp, base64.b64encode(xml).decode(), request_id, "bad_signature")
    sp.complete(answer.saml_response, expected_request_id=request_id, tenant_id="t1")
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    texts = [str(error), repr(error), *(caplog.handler.format(r) for r in ours)]
    for secret in ("alice", "engineering", "<", request_id):
        assert not any(secret in text for text in texts), secret


def test_signed_authn_requests_are_verified_by_the_idp(make_sp: MakeSp, world: SamlWorld) -> None:
    """With an SP key the AuthnRequest is signed; this IdP refuses it unsigned."""
    signing = make_sp(
        SIGNED_REQUESTS, sp_key_file=str(world.sp_key_file), sp_cert_file=str(world.sp_cert_file)
    )
    url, request_id = signing.begin("")
    assert "Signature=" in url and "SigAlg=" in url
    answer = browser_login(url)
    assert signing.complete(answer.saml_response, expected_request_id=request_id, tenant_id="t")
    unsigned_url, _ = make_sp(SIGNED_REQUESTS).begin("")
    assert "Signature=" not in unsigned_url
    page = httpx.get(unsigned_url, follow_redirects=True, timeout=30.0)
    assert "<title>Unhandled exception</title>" in page.text
    assert not any("password" in inputs for _, inputs in forms(page))


@pytest.mark.parametrize("signed", [False, True])
def test_metadata_loads_in_pysaml2(make_sp: MakeSp, world: SamlWorld, signed: bool) -> None:
    """metadata() is valid SAML metadata naming our entity id, ACS URL and signing
    wishes; with an SP key it is signed, and the signature covers the entity id."""
    keys = {"sp_key_file": str(world.sp_key_file), "sp_cert_file": str(world.sp_cert_file)}
    xml = make_sp(**(keys if signed else {})).metadata()
    conf = SPConfig().load({"entityid": "urn:test:reader", "xmlsec_binary": which("xmlsec1")})
    store = MetadataStore(None, conf)
    store.load("inline", xml)
    assert list(store.service_providers()) == [entity_id(SIGNED)]
    acs = store.assertion_consumer_service(entity_id(SIGNED))
    assert [endpoint["location"] for endpoint in acs] == [acs_url(SIGNED)]
    descriptor = md.entity_descriptor_from_string(xml)
    sp_descriptor = descriptor.spsso_descriptor[0]
    assert sp_descriptor.want_assertions_signed == "true"
    assert sp_descriptor.authn_requests_signed == ("true" if signed else "false")
    assert (descriptor.signature is not None) == signed
    if signed:
        node = "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"
        verify = security_context(conf).verify_signature
        assert verify(xml, cert_file=str(world.sp_cert_file), node_name=node)
        forged = xml.replace(entity_id(SIGNED), "https://evil.example.test/metadata")
        with pytest.raises(SignatureError):
            verify(forged, cert_file=str(world.sp_cert_file), node_name=node)


async def test_metadata_url_is_fetched_at_start(world: SamlWorld) -> None:
    """load_idp_metadata fetches the IdP metadata URL (loopback http is allowed)."""
    config = parse_saml_config(
        {"idp_metadata_url": world.idp.metadata_url}, public_url=PUBLIC_URL, tenant=SIGNED
    )
    assert config.idp_metadata_xml is None
    loaded = await load_idp_metadata(config)
    sp = SamlServiceProvider(loaded, MemoryReplayStore())
    assert sp.idp_entity_id == world.idp.entity_id
    missing = parse_saml_config(
        {"idp_metadata_url": f"{world.idp.base_url}/nope.php"}, public_url=PUBLIC_URL, tenant="a"
    )
    with pytest.raises(ValueError, match="idp_metadata_url: the IdP answered HTTP 404"):
        await load_idp_metadata(missing)
