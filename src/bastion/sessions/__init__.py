"""Server-side browser sessions after single sign-on: revocable, with an idle timeout,
an absolute lifetime and step-up, carried by a Secure, HttpOnly, SameSite cookie and
guarded against CSRF."""

from bastion.sessions.config import SessionPolicy, parse_session_policy
from bastion.sessions.cookies import COOKIE_NAME, CSRF_HEADER, csrf_token, session_cookie
from bastion.sessions.errors import CsrfFailed, SessionInvalid, StepUpRequired
from bastion.sessions.store import IssuedSession, SessionInfo, SessionStore

__all__ = [
    "COOKIE_NAME",
    "CSRF_HEADER",
    "CsrfFailed",
    "IssuedSession",
    "SessionInfo",
    "SessionInvalid",
    "SessionPolicy",
    "SessionStore",
    "StepUpRequired",
    "csrf_token",
    "parse_session_policy",
    "session_cookie",
]
