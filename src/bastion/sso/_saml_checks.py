"""The checks :mod:`bastion.sso.saml` adds to pysaml2's, and the identity it builds.

They run on the pysaml2 objects of a response whose signatures pysaml2 verified, with
the caller's clock. Every failure is a :class:`SamlError` with a fixed message and a
code; no message names an id, an attribute value or a piece of XML.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bastion.sso.identity import SsoIdentity
from bastion.sso.saml_config import SamlConfig

__all__ = [
    "ERROR_CODES",
    "MESSAGES",
    "CheckedAssertion",
    "Expectations",
    "SamlError",
    "check_response",
    "identity_from",
]

BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
EMAIL_NAME_ID = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
ALLOWED_SIGNATURES = frozenset(
    f"{_MORE}{alg}"
    for alg in (
        "rsa-sha256",
        "rsa-sha384",
        "rsa-sha512",
        "ecdsa-sha256",
        "ecdsa-sha384",
        "ecdsa-sha512",
    )
)
ALLOWED_DIGESTS = frozenset(
    {
        "http://www.w3.org/2001/04/xmlenc#sha256",
        f"{_MORE}sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)
# The message for each code where no more precise one is given.
MESSAGES = {
    "bad_response": "the SAML response is not acceptable",
    "bad_signature": "the SAML response signature is not valid",
    "wrong_issuer": "the SAML response comes from another issuer",
    "wrong_audience": "the SAML assertion is for another audience",
    "wrong_recipient": "the SAML response is for another recipient",
    "unsolicited": "the SAML response answers no request of ours",
    "expired": "the SAML assertion has expired",
    "not_yet_valid": "the SAML assertion is not valid yet",
    "replayed": "the SAML assertion was used before",
    "idp_error": "the IdP reported a failed sign-in",
    "missing_attribute": "the IdP sent no email address",
}
ERROR_CODES = frozenset(MESSAGES)


class SamlError(Exception):
    """A SAML response was refused. ``code`` is one of :data:`ERROR_CODES`:
    ``bad_response`` (malformed, or a check without a more precise code),
    ``bad_signature`` (unsigned where a signature is required, not signed by the IdP's
    key from metadata, or a weak algorithm), ``wrong_issuer``, ``wrong_audience``,
    ``wrong_recipient`` (Destination or Recipient is not our ACS URL), ``unsolicited``
    (InResponseTo is not the request this browser started), ``expired``,
    ``not_yet_valid``, ``replayed`` (assertion id seen before), ``idp_error`` (the IdP
    answered with a failure status), ``missing_attribute`` (no email). The message is
    fixed text safe to log or show."""

    def __init__(self, message: str, code: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown SAML error code {code!r}")
        super().__init__(message)
        self.message = message
        self.code = code

    def __repr__(self) -> str:
        return f"SamlError({self.message!r}, code={self.code!r})"


@dataclass(frozen=True, slots=True)
class Expectations:
    """What a response must say to be for us, now."""

    idp_entity_id: str
    sp_entity_id: str
    acs_url: str
    request_id: str | None
    allow_unsolicited: bool
    want_response_signed: bool
    want_assertions_signed: bool
    skew: timedelta


@dataclass(frozen=True, slots=True)
class CheckedAssertion:
    assertion_id: str
    remember_until: datetime  # the replay store keeps the id at least this long

    def __repr__(self) -> str:
        return "CheckedAssertion(...)"


def _text(element: Any) -> str | None:
    text = getattr(element, "text", None)
    return text.strip() if isinstance(text, str) else None


def _instant(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise SamlError(f"the SAML {what} time is missing", "bad_response")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SamlError(f"the SAML {what} time is malformed", "bad_response") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _window(not_before: Any, not_on_or_after: Any, now: datetime, skew: timedelta) -> None:
    if not_before is not None and now + skew < _instant(not_before, "NotBefore"):
        raise SamlError("the SAML assertion is not valid yet", "not_yet_valid")
    if not_on_or_after is not None and now - skew >= _instant(not_on_or_after, "NotOnOrAfter"):
        raise SamlError("the SAML assertion has expired", "expired")


def _check_algorithms(signature: Any) -> None:
    info = signature.signed_info
    method = getattr(info.signature_method, "algorithm", None)
    digests = [getattr(ref.digest_method, "algorithm", None) for ref in info.reference]
    if (
        method not in ALLOWED_SIGNATURES
        or not digests
        or any(d not in ALLOWED_DIGESTS for d in digests)
    ):
        raise SamlError("the SAML response uses a weak signature algorithm", "bad_signature")


def _check_signatures(response: Any, assertion: Any, want: Expectations) -> None:
    if want.want_response_signed and response.signature is None:
        raise SamlError("the SAML response is not signed", "bad_signature")
    if want.want_assertions_signed and assertion.signature is None:
        raise SamlError("the SAML assertion is not signed", "bad_signature")
    if response.signature is None and assertion.signature is None:
        raise SamlError("the SAML response is not signed", "bad_signature")
    for signature in (response.signature, assertion.signature):
        if signature is not None:
            _check_algorithms(signature)


def _check_in_response_to(value: Any, want: Expectations) -> None:
    if want.request_id is None:
        # IdP-initiated: only when enabled, and never an answer to someone's request.
        if not want.allow_unsolicited or value is not None:
            raise SamlError("the SAML response answers no request of ours", "unsolicited")
    elif value != want.request_id:
        raise SamlError("the SAML response answers no request of ours", "unsolicited")


def _audiences(conditions: Any) -> Iterable[list[str | None]]:
    for restriction in conditions.audience_restriction:
        yield [_text(audience) for audience in restriction.audience]


def _check_subject(assertion: Any, want: Expectations, now: datetime) -> list[datetime]:
    subject = assertion.subject
    if subject is None or not _text(subject.name_id):
        raise SamlError("the SAML assertion names no subject", "bad_response")
    confirmations = subject.subject_confirmation
    if not confirmations:
        raise SamlError("the SAML assertion has no subject confirmation", "bad_response")
    ends = []
    for confirmation in confirmations:
        data = confirmation.subject_confirmation_data
        if confirmation.method != BEARER or data is None:
            raise SamlError("the SAML subject confirmation is not bearer", "bad_response")
        if data.recipient != want.acs_url:
            raise SamlError("the SAML assertion is for another recipient", "wrong_recipient")
        _check_in_response_to(data.in_response_to, want)
        if data.not_on_or_after is None:
            raise SamlError("the SAML subject confirmation has no expiry", "bad_response")
        _window(data.not_before, data.not_on_or_after, now, want.skew)
        ends.append(_instant(data.not_on_or_after, "NotOnOrAfter"))
    return ends


def check_response(
    response: Any, assertion: Any, want: Expectations, now: datetime
) -> CheckedAssertion:
    """Every check pysaml2 leaves out or does with the wrong clock; raises SamlError."""
    if response.issuer is not None and _text(response.issuer) != want.idp_entity_id:
        raise SamlError("the SAML response comes from another issuer", "wrong_issuer")
    if len(response.assertion) != 1 or response.encrypted_assertion:
        raise SamlError("the SAML response must hold exactly one assertion", "bad_response")
    if _text(assertion.issuer) != want.idp_entity_id:
        raise SamlError("the SAML assertion comes from another issuer", "wrong_issuer")
    _check_signatures(response, assertion, want)
    if response.destination is not None and response.destination != want.acs_url:
        raise SamlError("the SAML response is for another recipient", "wrong_recipient")
    if response.destination is None and response.signature is not None:
        raise SamlError("the signed SAML response names no destination", "wrong_recipient")
    _check_in_response_to(response.in_response_to, want)
    if now + want.skew < _instant(response.issue_instant, "IssueInstant"):
        raise SamlError("the SAML response is not valid yet", "not_yet_valid")
    conditions = assertion.conditions
    audiences = list(_audiences(conditions)) if conditions is not None else []
    if not audiences or any(want.sp_entity_id not in group for group in audiences):
        raise SamlError("the SAML assertion is for another audience", "wrong_audience")
    _window(conditions.not_before, conditions.not_on_or_after, now, want.skew)
    ends = _check_subject(assertion, want, now)
    if conditions.not_on_or_after is not None:
        ends.append(_instant(conditions.not_on_or_after, "NotOnOrAfter"))
    if len(assertion.authn_statement) != 1:
        raise SamlError("the SAML assertion must hold one AuthnStatement", "bad_response")
    statement = assertion.authn_statement[0]
    if now + want.skew < _instant(statement.authn_instant, "AuthnInstant"):
        raise SamlError("the SAML sign-in time is in the future", "not_yet_valid")
    _window(None, statement.session_not_on_or_after, now, want.skew)
    if not isinstance(assertion.id, str) or not assertion.id:
        raise SamlError("the SAML assertion has no id", "bad_response")
    return CheckedAssertion(assertion.id, max(ends) + want.skew)


def _attributes(assertion: Any) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for statement in assertion.attribute_statement:
        for attribute in statement.attribute:
            if not isinstance(attribute.name, str):
                continue
            values = found.setdefault(attribute.name, [])
            for value in attribute.attribute_value:
                text = _text(value)
                if text and text not in values:
                    values.append(text)
    return {name: tuple(values) for name, values in found.items()}


def identity_from(assertion: Any, config: SamlConfig) -> SsoIdentity:
    """The SsoIdentity of a checked assertion: NameID as subject, AuthnInstant as
    ``authenticated_at``, email, name and groups from the configured attributes."""
    attributes = _attributes(assertion)
    name_id = assertion.subject.name_id
    emails = attributes.pop(config.email_attribute, ())
    if not emails and name_id.format == EMAIL_NAME_ID:
        emails = (_text(name_id) or "",)
    email = emails[0] if emails else ""
    if "@" not in email:
        raise SamlError("the IdP sent no email address", "missing_attribute")
    names = attributes.pop(config.name_attribute, ())
    return SsoIdentity(
        idp="saml",
        subject=_text(name_id) or "",
        email=email,
        authenticated_at=_instant(assertion.authn_statement[0].authn_instant, "AuthnInstant"),
        name=names[0] if names else "",
        groups=attributes.pop(config.groups_attribute, ()),
        attributes=attributes,
    )
