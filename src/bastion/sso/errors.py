"""The error of an OIDC or OAuth sign-in or bearer token that was not accepted."""

from __future__ import annotations

__all__ = ["MESSAGES", "SsoError"]

MESSAGES = {
    "idp_unreachable": "The identity provider could not be reached. Please try again later.",
    "idp_bad_response": "The identity provider sent an answer Bastion cannot use.",
    "idp_error": "The identity provider did not complete the sign-in.",
    "token_rejected": "The identity provider refused the sign-in. Please start again.",
    "unverified_email": "The identity provider has not verified this email address.",
    "no_email": "The identity provider did not say who signed in.",
    "domain_not_allowed": "This email domain may not sign in to this tenant.",
    "stale_auth": "Please sign in again at the identity provider.",
    "bearer_disabled": "This tenant does not accept identity provider tokens.",
}
_DEFAULT_MESSAGE = "The sign-in could not be verified."


class SsoError(Exception):
    """A sign-in or bearer token that was not accepted. ``message`` is safe to show;
    ``code`` is for the audit: ``bad_state``, ``bad_nonce``, ``bad_signature``,
    ``unknown_key``, ``bad_token``, ``wrong_issuer``, ``wrong_audience``, ``expired``,
    ``stale_auth``, ``idp_error``, ``idp_unreachable``, ``idp_bad_response``,
    ``token_rejected``, ``unverified_email``, ``no_email``, ``domain_not_allowed``,
    ``bearer_disabled``."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    @classmethod
    def of(cls, code: str, message: str | None = None) -> SsoError:
        return cls(message or MESSAGES.get(code, _DEFAULT_MESSAGE), code)

    def __repr__(self) -> str:
        return f"SsoError(code={self.code!r})"
