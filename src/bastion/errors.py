"""The exception tree every route maps to an OpenAI-style JSON error.

    BastionError                 base; carries an HTTP status and a stable ``code``
     +- InvalidRequest           400 invalid_request: malformed JSON, wrong types
     +- PayloadTooLarge          413 payload_too_large
     +- AuthenticationFailed     401 invalid_api_key (says nothing about *why*)
     +- PermissionDenied         403 permission_denied
     +- NotFound                 404 not_found (unknown route)
     +- MethodNotAllowed         405 method_not_allowed
     +- ModelNotAllowed          404 model_not_allowed (unknown or not permitted)
     +- RequestBlocked           400 request_blocked (a scanner said block)
     +- RateLimited              429 rate_limit_exceeded (with ``retry_after`` seconds)
     +- UpstreamError            502 upstream_error
     +- UpstreamTimeout          504 upstream_timeout
     +- AuditUnavailable         503 audit_unavailable (no record, no response)
     +- PolicyUnavailable        500 policy_unavailable (tenant policy missing or invalid)
     +- VaultUnavailable         503 vault_unavailable (a conversation's DLP vault will not open)
     +- RateLimitUnavailable     503 rate_limit_unavailable (the counters cannot be reached)

Messages are written for the caller and never contain prompt text, secrets or key
material: they name the field or the reason code, not the value.
"""

from __future__ import annotations

__all__ = [
    "AuditUnavailable",
    "AuthenticationFailed",
    "BastionError",
    "Conflict",
    "InvalidRequest",
    "MethodNotAllowed",
    "ModelNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "PolicyUnavailable",
    "RateLimitUnavailable",
    "RateLimited",
    "RequestBlocked",
    "UpstreamError",
    "UpstreamTimeout",
    "VaultUnavailable",
]


class BastionError(Exception):
    """Base of every error Bastion turns into an API response."""

    status: int = 500
    code: str = "internal_error"
    error_type: str = "server_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidRequest(BastionError):
    status = 400
    code = "invalid_request"
    error_type = "invalid_request_error"


class PayloadTooLarge(BastionError):
    status = 413
    code = "payload_too_large"
    error_type = "invalid_request_error"


class AuthenticationFailed(BastionError):
    status = 401
    code = "invalid_api_key"
    error_type = "authentication_error"

    def __init__(self, message: str = "Invalid or missing API key.") -> None:
        super().__init__(message)


class PermissionDenied(BastionError):
    status = 403
    code = "permission_denied"
    error_type = "permission_error"


class NotFound(BastionError):
    status = 404
    code = "not_found"
    error_type = "invalid_request_error"


class MethodNotAllowed(BastionError):
    status = 405
    code = "method_not_allowed"
    error_type = "invalid_request_error"


class Conflict(BastionError):
    """The request is valid but the resource's state refuses it (an action already
    decided, expired or changed); ``code`` says which."""

    status = 409
    code = "conflict"
    error_type = "invalid_request_error"

    def __init__(self, message: str, *, code: str = "conflict") -> None:
        super().__init__(message)
        self.code = code


class ModelNotAllowed(BastionError):
    status = 404
    code = "model_not_allowed"
    error_type = "invalid_request_error"


class RequestBlocked(BastionError):
    """A scanner blocked the request or the response; ``reasons`` are reason codes."""

    status = 400
    code = "request_blocked"
    error_type = "invalid_request_error"

    def __init__(self, message: str, *, reasons: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.reasons = reasons


class UpstreamError(BastionError):
    status = 502
    code = "upstream_error"
    error_type = "api_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class AuditUnavailable(BastionError):
    status = 503
    code = "audit_unavailable"
    error_type = "api_error"


class PolicyUnavailable(BastionError):
    """The tenant's policy cannot be loaded: fail closed rather than run unscanned."""

    status = 500
    code = "policy_unavailable"
    error_type = "server_error"


class VaultUnavailable(BastionError):
    """A conversation's pseudonym vault cannot be read: fail closed rather than lose
    track of which placeholder is whose."""

    status = 503
    code = "vault_unavailable"
    error_type = "api_error"


class RateLimited(BastionError):
    """A rate limit is spent. ``error_type`` is OpenAI's: ``requests`` or ``tokens``;
    ``retry_after`` is whole seconds (at least 1) until the window has room again,
    sent as the ``Retry-After`` header. The message names the limit, never its value
    or whose counter it is."""

    status = 429
    code = "rate_limit_exceeded"
    error_type = "requests"

    def __init__(self, message: str, *, kind: str = "requests", retry_after: int = 1) -> None:
        super().__init__(message)
        self.error_type = kind
        self.retry_after = max(1, retry_after)


class RateLimitUnavailable(BastionError):
    """The rate-limit counters cannot be read or written (Redis down): fail closed
    rather than serve without limits."""

    status = 503
    code = "rate_limit_unavailable"
    error_type = "api_error"
