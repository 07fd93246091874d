"""The errors of cookie-authenticated requests (OpenAI-style bodies, like the rest)."""

from __future__ import annotations

from bastion.errors import BastionError

__all__ = ["CsrfFailed", "SessionInvalid", "StepUpRequired"]


class SessionInvalid(BastionError):
    """Missing, unknown, tampered, revoked, idle or expired: one error for all."""

    status = 401
    code = "invalid_session"
    error_type = "invalid_request_error"

    def __init__(self, message: str = "Sign in again: the session is not valid.") -> None:
        super().__init__(message)


class CsrfFailed(BastionError):
    status = 403
    code = "csrf_failed"
    error_type = "invalid_request_error"

    def __init__(self) -> None:
        super().__init__(
            "A request authenticated by a session cookie needs the X-CSRF-Token header "
            "from GET /admin/me."
        )


class StepUpRequired(BastionError):
    status = 403
    code = "step_up_required"
    error_type = "invalid_request_error"

    def __init__(self) -> None:
        super().__init__("This operation needs a recent sign-in: sign in again and retry.")
