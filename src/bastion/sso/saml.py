"""SAML 2.0 Web Browser SSO, service provider side, on pysaml2 (the ``saml`` extra).

Flow: :meth:`SamlServiceProvider.begin` makes an AuthnRequest for the HTTP-Redirect
binding and returns its id, which the caller keeps server-side; the IdP posts a
SAMLResponse back (HTTP-POST binding) and :meth:`SamlServiceProvider.complete` turns it
into an :class:`SsoIdentity` or raises :class:`SamlError`.

pysaml2 (with the ``xmlsec1`` program) verifies the XML signatures against the IdP
certificates from metadata, the signature profile of SAML core 5.4, the schema, and
some conditions. It leaves gaps, which :mod:`bastion.sso._saml_checks` closes on the
objects pysaml2 verified (never on a second parse): issuer; Destination and Recipient
equal to our ACS URL (pysaml2 skips Recipient without conversation info, and on a wrong
Destination returns a response without an assertion instead of raising); an audience
restriction naming us (pysaml2 accepts an assertion without one); InResponseTo on the
response and on every subject confirmation; times against the injected clock; allowed
signature algorithms; one assertion with one AuthnStatement; replayed assertion ids.

pysaml2 logs whole assertions and NameIDs, so building a provider turns its ``saml2``
loggers off. Errors carry a code and a fixed message: never XML, ids or attribute values.
pysaml2 calls ``xmlsec1`` in a subprocess: async callers run :meth:`complete` in a thread.
"""

from __future__ import annotations

import base64
import binascii
import logging
import shutil
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

from bastion.sso._saml_checks import (
    ERROR_CODES,
    MESSAGES,
    Expectations,
    SamlError,
    check_response,
    identity_from,
)
from bastion.sso.identity import SsoIdentity
from bastion.sso.saml_config import SamlConfig

try:
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp  # type: ignore[import-untyped]
    from saml2.client import Saml2Client  # type: ignore[import-untyped]
    from saml2.config import SPConfig  # type: ignore[import-untyped]
    from saml2.metadata import create_metadata_string  # type: ignore[import-untyped]
    from saml2.response import StatusError, UnsolicitedResponse  # type: ignore[import-untyped]
    from saml2.sigver import SigverError  # type: ignore[import-untyped]
    from saml2.validate import ResponseLifetimeExceed, ToEarly  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "SAML single sign-on needs pysaml2: install bastion-gateway[saml] "
        "(and the xmlsec1 program: apt install xmlsec1)"
    ) from exc

__all__ = ["ERROR_CODES", "MemoryReplayStore", "ReplayStore", "SamlError", "SamlServiceProvider"]

# pysaml2's exceptions that name the failure; anything else is diagnosed by our checks.
_PYSAML2_ERRORS: tuple[tuple[type[BaseException], str], ...] = (
    (SigverError, "bad_signature"),
    (UnsolicitedResponse, "unsolicited"),
    (ResponseLifetimeExceed, "expired"),
    (ToEarly, "not_yet_valid"),
    (StatusError, "idp_error"),
)
MAX_RESPONSE_BYTES = 256 * 1024
MAX_RELAY_STATE_BYTES = 80  # SAML bindings 3.4.3 / 3.5.3
_SIG_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
_DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ReplayStore(Protocol):
    """Remembers assertion ids per tenant until they expire."""

    def remember(self, tenant_id: str, assertion_id: str, expires_at: datetime) -> bool:
        """Record the id; False when it was already recorded and has not expired.
        Implementations drop ids whose ``expires_at`` has passed."""
        ...


class MemoryReplayStore:
    """A :class:`ReplayStore` in process memory, for tests and single-process use."""

    def __init__(self, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str], datetime] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryReplayStore(ids={len(self._seen)})"

    def remember(self, tenant_id: str, assertion_id: str, expires_at: datetime) -> bool:
        now = self._clock()
        with self._lock:
            self._seen = {k: until for k, until in self._seen.items() if until > now}
            key = (tenant_id, assertion_id)
            if key in self._seen:
                return False
            self._seen[key] = expires_at
            return True


def _silence_pysaml2_logging() -> None:
    """pysaml2 logs assertions, NameIDs and attribute values, some at ERROR level."""
    logger = logging.getLogger("saml2")
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _xmlsec_binary() -> str:
    path = shutil.which("xmlsec1")
    if path is None:
        raise RuntimeError("SAML needs the xmlsec1 program (Debian/Ubuntu: apt install xmlsec1)")
    return path


def _pysaml2_config(config: SamlConfig) -> Any:
    if config.idp_metadata_xml is None:
        raise ValueError("[sso.saml] idp_metadata_url: metadata not loaded (load_idp_metadata)")
    signed_requests = config.sp_key_file is not None
    sp: dict[str, Any] = {
        "endpoints": {"assertion_consumer_service": [(config.acs_url, BINDING_HTTP_POST)]},
        "allow_unsolicited": config.allow_unsolicited,
        "want_assertions_signed": config.want_assertions_signed,
        "want_response_signed": config.want_response_signed,
        "want_assertions_or_response_signed": True,
        "authn_requests_signed": signed_requests,
        "name_id_format_allow_create": False,
    }
    if config.name_id_format is not None:
        sp["name_id_format"] = [config.name_id_format]
    settings: dict[str, Any] = {
        "entityid": config.sp_entity_id,
        "xmlsec_binary": _xmlsec_binary(),
        "metadata": {"inline": [config.idp_metadata_xml]},
        "service": {"sp": sp},
        "accepted_time_diff": int(config.clock_skew.total_seconds()),
        "only_use_keys_in_metadata": True,
        "allow_unknown_attributes": True,
        "delete_tmpfiles": True,
        "signing_algorithm": _SIG_RSA_SHA256,
        "digest_algorithm": _DIGEST_SHA256,
    }
    if config.sp_key_file is not None and config.sp_cert_file is not None:
        settings["key_file"] = str(config.sp_key_file)
        settings["cert_file"] = str(config.sp_cert_file)
    conf = SPConfig()
    try:
        conf.load(settings)
    except Exception as exc:
        raise ValueError(
            f"[sso.saml] idp_metadata_xml: cannot load the IdP metadata ({type(exc).__name__})"
        ) from None
    return conf


def _idp_entity_id(client: Any, configured: str | None) -> str:
    idps = sorted(client.metadata.identity_providers())
    if configured is not None:
        if configured not in idps:
            raise ValueError("[sso.saml] idp_entity_id: not an IdP in the metadata")
        entity_id = configured
    elif len(idps) == 1:
        entity_id = idps[0]
    else:
        raise ValueError(
            f"[sso.saml] idp_entity_id: the metadata lists {len(idps)} IdPs; name the one to use"
        )
    if not client.metadata.certs(entity_id, "idpsso", "signing"):
        raise ValueError("[sso.saml] idp_metadata_xml: the IdP has no signing certificate")
    try:
        client.metadata.single_sign_on_service(entity_id, BINDING_HTTP_REDIRECT)[0]
    except Exception:  # UnsupportedBinding, or no endpoint at all
        raise ValueError(
            "[sso.saml] idp_metadata_xml: the IdP has no HTTP-Redirect SingleSignOnService"
        ) from None
    return str(entity_id)


def _decode(saml_response_b64: str) -> bytes:
    compact = "".join(saml_response_b64.split())
    if not compact or len(compact) > MAX_RESPONSE_BYTES * 4 // 3 + 4:
        raise SamlError("the SAML response is empty or too large", "bad_response")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise SamlError("the SAML response is not base64", "bad_response") from None


class SamlServiceProvider:
    """One tenant's SAML service provider. Holds no per-login state: the caller keeps the
    request id from :meth:`begin` and hands it back to :meth:`complete`."""

    def __init__(
        self,
        config: SamlConfig,
        replay_store: ReplayStore,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        _silence_pysaml2_logging()
        self._config = config
        self._replay = replay_store
        self._clock = clock
        self._client = Saml2Client(config=_pysaml2_config(config))
        self._idp_entity_id = _idp_entity_id(self._client, config.idp_entity_id)

    def __repr__(self) -> str:
        return f"SamlServiceProvider(tenant={self._config.tenant!r})"

    @property
    def config(self) -> SamlConfig:
        return self._config

    @property
    def idp_entity_id(self) -> str:
        return self._idp_entity_id

    def metadata(self) -> str:
        """This SP's metadata XML (signed when an SP key is configured)."""
        signed = self._config.sp_key_file is not None
        xml = create_metadata_string(
            None,
            config=self._client.config,
            sign=signed,
            sign_alg=_SIG_RSA_SHA256 if signed else None,
            digest_alg=_DIGEST_SHA256 if signed else None,
        )
        return xml.decode("utf-8") if isinstance(xml, bytes) else str(xml)

    def begin(self, relay_state: str = "", *, force: bool = False) -> tuple[str, str]:
        """(IdP URL to redirect the browser to, AuthnRequest id to keep server-side).
        ``relay_state`` must be an opaque handle of at most 80 bytes, not a URL to trust.
        ``force`` (step-up) sets ForceAuthn: the IdP must authenticate the person again."""
        if len(relay_state.encode("utf-8")) > MAX_RELAY_STATE_BYTES:
            raise ValueError("relay_state must be at most 80 bytes")
        signed = self._config.sp_key_file is not None
        request_id, info = self._client.prepare_for_authenticate(
            entityid=self._idp_entity_id,
            relay_state=relay_state,
            binding=BINDING_HTTP_REDIRECT,
            nameid_format=self._config.name_id_format,
            sign=signed,
            sigalg=_SIG_RSA_SHA256 if signed else None,
            digest_alg=_DIGEST_SHA256 if signed else None,
            **({"force_authn": "true"} if force else {}),
        )
        location = dict(info["headers"])["Location"]
        return str(location), str(request_id)

    def complete(
        self, saml_response_b64: str, *, expected_request_id: str | None, tenant_id: str
    ) -> SsoIdentity:
        """Verify a SAMLResponse posted to the ACS URL and return who signed in.

        ``expected_request_id`` is the id :meth:`begin` returned for this browser
        (``None`` only for IdP-initiated login, refused unless ``allow_unsolicited``).
        ``tenant_id`` scopes the replay store. Raises :class:`SamlError`."""
        xml = _decode(saml_response_b64)
        now = self._clock()
        parsed, failure = self._pysaml2_verify(xml, expected_request_id)
        # Raised here, outside any except block: our error must not hold pysaml2's
        # exception as __context__ (its arguments include the whole document).
        if failure is not None:
            raise failure
        if parsed is None or parsed.assertion is None or parsed.response is None:
            # pysaml2 returns a response without an assertion when its own checks of
            # Destination, issue instant or InResponseTo fail: never accept that.
            self._diagnose(xml, expected_request_id, now)
        if parsed.name_id is not None:
            self._client.users.remove_person(parsed.name_id)  # pysaml2's in-memory cache
        checked = check_response(
            parsed.response, parsed.assertion, self._expectations(expected_request_id), now
        )
        if not self._replay.remember(tenant_id, checked.assertion_id, checked.remember_until):
            raise SamlError("the SAML assertion was used before", "replayed")
        return identity_from(parsed.assertion, self._config)

    def _pysaml2_verify(
        self, xml: bytes, expected_request_id: str | None
    ) -> tuple[Any, SamlError | None]:
        """pysaml2's verdict: (its AuthnResponse, None) or (None, the error to raise)."""
        outstanding = {expected_request_id: "/"} if expected_request_id else {}
        try:
            parsed = self._client.parse_authn_request_response(
                base64.b64encode(xml).decode("ascii"), BINDING_HTTP_POST, outstanding=outstanding
            )
        except Exception as exc:  # classified below: pysaml2 raises bare Exception too
            code = next((c for t, c in _PYSAML2_ERRORS if isinstance(exc, t)), None)
        else:
            return parsed, None
        if code is None:  # e.g. audience: name it with our own checks
            return None, self._diagnosis(xml, expected_request_id, self._clock())
        return None, SamlError(MESSAGES[code], code)

    def _expectations(self, expected_request_id: str | None) -> Expectations:
        return Expectations(
            idp_entity_id=self._idp_entity_id,
            sp_entity_id=self._config.sp_entity_id,
            acs_url=self._config.acs_url,
            request_id=expected_request_id,
            allow_unsolicited=self._config.allow_unsolicited,
            want_response_signed=self._config.want_response_signed,
            want_assertions_signed=self._config.want_assertions_signed,
            skew=self._config.clock_skew,
        )

    def _diagnosis(self, xml: bytes, expected_request_id: str | None, now: datetime) -> SamlError:
        """The most precise error for a response pysaml2 refused. Runs our checks on an
        unverified parse only to name the failure, never to accept anything."""
        try:
            response = samlp.response_from_string(xml)
        except Exception:  # any parse failure is a bad response
            response = None
        if response is not None and len(response.assertion) == 1:
            want = self._expectations(expected_request_id)
            try:
                check_response(response, response.assertion[0], want, now)
            except SamlError as error:
                return SamlError(error.message, error.code)
        return SamlError(MESSAGES["bad_response"], "bad_response")

    def _diagnose(self, xml: bytes, expected_request_id: str | None, now: datetime) -> NoReturn:
        raise self._diagnosis(xml, expected_request_id, now)
