"""Helpers for tests/sso/test_saml.py: a SimpleSAMLphp IdP that knows a few Bastion
tenants, their SP configs, a hand-moved clock, and a browser stand-in (httpx) that
logs in at the IdP and returns what it would post to the ACS URL."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from saml2 import samlp
from saml2.config import Config
from saml2.sigver import pre_signature_part, security_context

from bastion.sso.saml_config import SamlConfig, parse_saml_config
from tests.conftest import need_service
from tests.sso.saml_idp import (
    IdpUser,
    KeyPair,
    RunningIdp,
    SpEntry,
    make_key_pair,
    missing_programs,
    running_idp,
)

PUBLIC_URL = "https://bastion.example.test"
ALICE = IdpUser(
    "alice",
    "alice-password",
    {
        "uid": ["alice"],
        "email": ["alice@example.com"],
        "displayName": ["Alice Example"],
        "groups": ["engineering", "bastion-admins"],
        "department": ["R&D"],
    },
)
# Tenants the IdP knows, and what it signs for each.
SIGNED = "acme"  # response and assertion signed
ASSERTION_UNSIGNED = "nosign-assertion"  # only the response is signed
NOTHING_SIGNED = "nosign"  # neither
SIGNED_REQUESTS = "signedreq"  # the IdP requires our AuthnRequests signed


def entity_id(tenant: str) -> str:
    return f"{PUBLIC_URL}/sso/{tenant}/saml/metadata"


def acs_url(tenant: str) -> str:
    return f"{PUBLIC_URL}/sso/{tenant}/saml/acs"


@dataclass(frozen=True)
class SamlWorld:
    idp: RunningIdp
    sp_keys: KeyPair
    sp_key_file: Path
    sp_cert_file: Path


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def saml_world(directory: Path) -> Iterator[SamlWorld]:
    """A SimpleSAMLphp IdP that knows the test tenants, and an SP key pair; skips (or
    fails under CI=true) when php, SimpleSAMLphp or xmlsec1 is missing."""
    missing = missing_programs()
    need_service(f"SimpleSAMLphp and xmlsec1 (missing: {', '.join(missing)})", not missing)
    sp_keys = make_key_pair("bastion-test-sp")
    directory.mkdir(parents=True, exist_ok=True)
    key_file, cert_file = directory / "sp.key", directory / "sp.crt"
    key_file.write_text(sp_keys.key_pem)
    key_file.chmod(0o600)
    cert_file.write_text(sp_keys.cert_pem)
    sps = [
        SpEntry(entity_id(SIGNED), acs_url(SIGNED)),
        SpEntry(entity_id(ASSERTION_UNSIGNED), acs_url(ASSERTION_UNSIGNED), sign_assertion=False),
        SpEntry(
            entity_id(NOTHING_SIGNED),
            acs_url(NOTHING_SIGNED),
            sign_assertion=False,
            sign_response=False,
        ),
        SpEntry(entity_id(SIGNED_REQUESTS), acs_url(SIGNED_REQUESTS), certificate=sp_keys),
    ]
    with running_idp(directory / "idp", sps=sps, users=[ALICE]) as idp:
        yield SamlWorld(idp, sp_keys, key_file, cert_file)


def saml_config(
    world: SamlWorld,
    tenant: str = SIGNED,
    *,
    public_url: str = PUBLIC_URL,
    metadata_xml: str | None = None,
    **table: Any,
) -> SamlConfig:
    """The config of ``tenant`` for the test IdP; keyword arguments are ``[sso.saml]`` keys."""
    table = {"idp_metadata_xml": metadata_xml or world.idp.metadata_xml, **table}
    return parse_saml_config(table, public_url=public_url, tenant=tenant)


class _Forms(HTMLParser):
    """The forms of a page: action and named input values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((values.get("action", ""), {}))
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1][1][values["name"]] = values.get("value", "")


def forms(page: httpx.Response) -> list[tuple[str, dict[str, str]]]:
    parser = _Forms()
    parser.feed(page.text)
    return [(urljoin(str(page.url), action), inputs) for action, inputs in parser.forms]


@dataclass(frozen=True)
class IdpAnswer:
    saml_response: str
    relay_state: str
    action: str


def browser_login(redirect_url: str, user: IdpUser = ALICE) -> IdpAnswer:
    """What a browser does between Bastion's redirect and the POST to the ACS URL."""
    with httpx.Client(follow_redirects=True, timeout=30.0) as browser:
        page = browser.get(redirect_url)
        page.raise_for_status()
        login = next((f for f in forms(page) if "password" in f[1]), None)
        assert login is not None, f"no login form at {page.url}"
        action, inputs = login
        page = browser.post(
            action, data={**inputs, "username": user.username, "password": user.password}
        )
        page.raise_for_status()
        posted = next((f for f in forms(page) if "SAMLResponse" in f[1]), None)
        assert posted is not None, f"no SAMLResponse form after login at {page.url}"
        action, inputs = posted
        return IdpAnswer(inputs["SAMLResponse"], inputs.get("RelayState", ""), action)


ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
RESPONSE = "urn:oasis:names:tc:SAML:2.0:protocol:Response"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def resign(
    saml_response: str,
    key_file: Path,
    cert_file: Path,
    edit: Callable[[Any], None] = lambda response: None,
    *,
    sign_response: bool = True,
    sign_assertion: bool = True,
    sign_alg: str = RSA_SHA256,
    digest_alg: str = SHA256,
) -> str:
    """An IdP answer edited by ``edit(response)`` and signed again with pysaml2 and the
    given key: how the tests make responses a correct IdP never sends (a missing
    audience, a wrong Recipient only in the subject, SHA-1) while the signature stays
    valid, so that the check under test, not the signature, must refuse them."""
    response = samlp.response_from_string(base64.b64decode(saml_response))
    assertion = response.assertion[0]
    response.signature = assertion.signature = None
    edit(response)
    conf = Config()
    conf.key_file, conf.cert_file = str(key_file), str(cert_file)
    conf.xmlsec_binary = shutil.which("xmlsec1")
    sec = security_context(conf)
    algs = {"sign_alg": sign_alg, "digest_alg": digest_alg}
    if sign_assertion:
        assertion.signature = pre_signature_part(assertion.id, sec.my_cert, 1, **algs)
    if sign_response:
        response.signature = pre_signature_part(response.id, sec.my_cert, 2, **algs)
    xml = str(response)
    if sign_assertion:
        xml = sec.sign_statement(xml, ASSERTION, node_id=assertion.id)
    if sign_response:
        xml = sec.sign_statement(xml, RESPONSE, node_id=response.id)
    return base64.b64encode(xml.encode() if isinstance(xml, str) else xml).decode()
