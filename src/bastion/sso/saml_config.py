"""Per-tenant SAML 2.0 settings: the policy table ``[sso.saml]``, checked at start.

Keys (all optional except one IdP metadata source)::

    [sso.saml]
    idp_metadata_url = "https://idp.example.com/metadata"  # or idp_metadata_file / _xml
    idp_entity_id = "https://idp.example.com/"   # needed when the metadata lists several IdPs
    sp_entity_id = "https://bastion.example.com/sso/acme/saml/metadata"   # the default
    want_assertions_signed = true   # at least one of these two must stay true
    want_response_signed = true
    allow_unsolicited = false       # IdP-initiated login (no AuthnRequest): off unless set
    groups_attribute = "groups"     # e.g. "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
    email_attribute = "email"       # e.g. "urn:oid:0.9.2342.19200300.100.1.3" (mail)
    name_attribute = "displayName"
    name_id_format = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    clock_skew_seconds = 60         # 0 to 300
    sp_key_file = "/etc/bastion/saml-sp.key"    # both or neither: sign AuthnRequests
    sp_cert_file = "/etc/bastion/saml-sp.crt"   # and the SP metadata
    role_mapping = { "bastion-admins" = "admin" }  # group -> role (bastion.sso.roles)
    default_role = "member"         # unset: a person with no mapped group is refused
    jit = true                      # make unknown people users at first sign-in
    attributes = { region = "region" }  # user attribute -> SAML attribute (bastion.sso.attributes)

Unknown keys and bad values raise :class:`ValueError` naming the key. A metadata URL
is fetched once at start (:func:`load_idp_metadata`), over HTTPS unless it is loopback.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bastion.sso.attributes import validate_attribute_mapping
from bastion.sso.roles import validate_role, validate_role_mapping

__all__ = ["SamlConfig", "load_idp_metadata", "parse_saml_config"]

MAX_METADATA_BYTES = 5 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 10.0
MAX_CLOCK_SKEW_SECONDS = 300
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_METADATA_SOURCES = ("idp_metadata_url", "idp_metadata_file", "idp_metadata_xml")
_STRINGS = (
    "idp_entity_id",
    "sp_entity_id",
    "groups_attribute",
    "email_attribute",
    "name_attribute",
    "name_id_format",
)
_BOOLS = ("want_assertions_signed", "want_response_signed", "allow_unsolicited")
_ACCESS = ("role_mapping", "default_role", "jit", "attributes")
_KEYS = frozenset(
    {
        *_METADATA_SOURCES,
        *_STRINGS,
        *_BOOLS,
        *_ACCESS,
        "clock_skew_seconds",
        "sp_key_file",
        "sp_cert_file",
    }
)


@dataclass(frozen=True, slots=True)
class SamlConfig:
    """One tenant's SAML service provider settings. ``idp_metadata_xml`` is ``None`` only
    while a metadata URL has not been fetched yet (see :func:`load_idp_metadata`)."""

    tenant: str
    sp_entity_id: str
    acs_url: str
    idp_metadata_xml: str | None = dataclasses.field(default=None, repr=False)
    idp_metadata_url: str | None = None
    idp_entity_id: str | None = None
    want_assertions_signed: bool = True
    want_response_signed: bool = True
    allow_unsolicited: bool = False
    groups_attribute: str = "groups"
    email_attribute: str = "email"
    name_attribute: str = "displayName"
    name_id_format: str | None = None
    clock_skew: timedelta = timedelta(seconds=60)
    sp_key_file: Path | None = None
    sp_cert_file: Path | None = None
    role_mapping: Mapping[str, str] = dataclasses.field(default_factory=dict)
    default_role: str | None = None
    jit: bool = False
    attribute_mapping: Mapping[str, str] = dataclasses.field(default_factory=dict)


def _fail(key: str, problem: str) -> ValueError:
    return ValueError(f"[sso.saml] {key}: {problem}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(key: str, value: str, *, allow_loopback_http: bool) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _fail(key, "must be an absolute https:// URL")
    if parts.scheme == "http" and not (allow_loopback_http and _is_loopback(parts.hostname)):
        raise _fail(key, "must use https:// (plain http is allowed on loopback only)")
    if parts.username or parts.password:
        raise _fail(key, "must not carry credentials")
    return value


def _string(table: Mapping[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(key, "must be a non-empty string")
    return value.strip()


def _bool(table: Mapping[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise _fail(key, "must be true or false")
    return value


def _file(table: Mapping[str, Any], key: str) -> Path | None:
    value = _string(table, key)
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise _fail(key, "is not a readable file")
    return path


def _metadata(table: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(inline XML, URL): exactly one source; a file is read now, a URL later."""
    given = [key for key in _METADATA_SOURCES if key in table]
    if len(given) != 1:
        raise _fail("idp_metadata_url", "set exactly one of " + ", ".join(_METADATA_SOURCES))
    key = given[0]
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise _fail(key, "must be a non-empty string")
    if key == "idp_metadata_url":
        return None, _url(key, value.strip(), allow_loopback_http=True)
    if key == "idp_metadata_file":
        path = Path(value.strip())
        if not path.is_file():
            raise _fail(key, "is not a readable file")
        return path.read_text(encoding="utf-8"), None
    return value, None


def parse_saml_config(table: Mapping[str, Any], *, public_url: str, tenant: str) -> SamlConfig:
    """Check ``[sso.saml]`` for ``tenant``; the SP URLs derive from ``public_url``."""
    if not isinstance(table, Mapping):
        raise ValueError("[sso.saml] must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise _fail(unknown[0], "unknown key (known: " + ", ".join(sorted(_KEYS)) + ")")
    if not _TENANT.match(tenant):
        raise ValueError("tenant id must be 1-128 letters, digits, '.', '_' or '-'")
    base = _url("public_url", public_url.rstrip("/"), allow_loopback_http=True)
    xml, url = _metadata(table)
    strings = {key: _string(table, key) for key in _STRINGS}
    sp_entity_id = strings["sp_entity_id"] or f"{base}/sso/{tenant}/saml/metadata"
    want_assertions = _bool(table, "want_assertions_signed", True)
    want_response = _bool(table, "want_response_signed", True)
    if not (want_assertions or want_response):
        raise _fail(
            "want_response_signed",
            "want_assertions_signed and want_response_signed cannot both be false: "
            "unsigned SAML responses are never accepted",
        )
    skew = table.get("clock_skew_seconds", 60)
    if (
        isinstance(skew, bool)
        or not isinstance(skew, int)
        or not 0 <= skew <= MAX_CLOCK_SKEW_SECONDS
    ):
        raise _fail("clock_skew_seconds", f"must be an integer from 0 to {MAX_CLOCK_SKEW_SECONDS}")
    mapping = table.get("role_mapping", {})
    if not isinstance(mapping, Mapping):
        raise _fail("role_mapping", "must be a table of group = role")
    role_mapping = validate_role_mapping(mapping, where="[sso.saml]")
    default = _string(table, "default_role")
    default_role = validate_role(default, "[sso.saml] default_role") if default else None
    key_file, cert_file = _file(table, "sp_key_file"), _file(table, "sp_cert_file")
    if (key_file is None) != (cert_file is None):
        raise _fail("sp_key_file", "set both sp_key_file and sp_cert_file, or neither")
    return SamlConfig(
        tenant=tenant,
        sp_entity_id=sp_entity_id,
        acs_url=f"{base}/sso/{tenant}/saml/acs",
        idp_metadata_xml=xml,
        idp_metadata_url=url,
        idp_entity_id=strings["idp_entity_id"],
        want_assertions_signed=want_assertions,
        want_response_signed=want_response,
        allow_unsolicited=_bool(table, "allow_unsolicited", False),
        groups_attribute=strings["groups_attribute"] or "groups",
        email_attribute=strings["email_attribute"] or "email",
        name_attribute=strings["name_attribute"] or "displayName",
        name_id_format=strings["name_id_format"],
        clock_skew=timedelta(seconds=skew),
        sp_key_file=key_file,
        sp_cert_file=cert_file,
        role_mapping=role_mapping,
        default_role=default_role,
        jit=_bool(table, "jit", False),
        attribute_mapping=validate_attribute_mapping(
            table.get("attributes", {}), where="[sso.saml]"
        ),
    )


async def load_idp_metadata(
    config: SamlConfig, *, session: aiohttp.ClientSession | None = None
) -> SamlConfig:
    """``config`` with its IdP metadata fetched from ``idp_metadata_url`` (unchanged when
    the metadata was given inline or as a file). Fails rather than start without it."""
    if config.idp_metadata_xml is not None or config.idp_metadata_url is None:
        return config
    own = session is None
    client = session or aiohttp.ClientSession()
    try:
        async with client.get(
            config.idp_metadata_url,
            timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS),
            allow_redirects=False,
        ) as response:
            if response.status != 200:
                raise _fail("idp_metadata_url", f"the IdP answered HTTP {response.status}")
            body = await response.content.read(MAX_METADATA_BYTES + 1)
    except aiohttp.ClientError as exc:
        raise _fail("idp_metadata_url", f"cannot fetch ({type(exc).__name__})") from None
    finally:
        if own:
            await client.close()
    if len(body) > MAX_METADATA_BYTES:
        raise _fail("idp_metadata_url", "metadata larger than 5 MiB")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail("idp_metadata_url", "metadata is not UTF-8") from None
    return dataclasses.replace(config, idp_metadata_xml=text)
