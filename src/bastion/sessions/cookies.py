"""The session cookie and the CSRF token derived from it.

The cookie value is ``<session id>.<secret>`` (the secret 256 random bits; the store
keeps only its SHA-256). It is ``HttpOnly`` (no script reads it), ``SameSite=Lax``
(not sent on cross-site sub-requests or POSTs; Lax rather than Strict so the redirect
back from the identity provider lands signed in) and ``Secure`` whenever the gateway
is reached over HTTPS.

CSRF: a state-changing request authenticated by the cookie must carry
``X-CSRF-Token``, an HMAC-SHA256 of the session id keyed by the cookie's secret. A page
of the gateway's origin gets it from ``GET /admin/me``; another origin can neither
read the cookie nor that response, so it cannot forge the header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

__all__ = [
    "COOKIE_NAME",
    "CSRF_HEADER",
    "clear_session_cookie",
    "csrf_ok",
    "csrf_token",
    "session_cookie",
    "split_cookie",
]

COOKIE_NAME = "bastion_session"
CSRF_HEADER = "x-csrf-token"


def split_cookie(value: str) -> tuple[str, str] | None:
    """``(session id, secret)`` of a well-formed cookie value, else None."""
    session_id, dot, secret = value.partition(".")
    if not dot or len(session_id) != 36 or not 20 <= len(secret) <= 128:
        return None
    return session_id, secret


def csrf_token(cookie_value: str) -> str:
    parts = split_cookie(cookie_value)
    if parts is None:
        return ""
    session_id, secret = parts
    digest = hmac.new(secret.encode(), b"csrf\x00" + session_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def csrf_ok(cookie_value: str, presented: str | None) -> bool:
    expected = csrf_token(cookie_value)
    return bool(expected) and presented is not None and hmac.compare_digest(expected, presented)


def session_cookie(value: str, expires_at: datetime, *, secure: bool) -> str:
    """The ``Set-Cookie`` header value for a new session."""
    expires = expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    flags = "; Secure" if secure else ""
    return f"{COOKIE_NAME}={value}; Path=/; Expires={expires}; HttpOnly; SameSite=Lax{flags}"


def clear_session_cookie(*, secure: bool) -> str:
    flags = "; Secure" if secure else ""
    return f"{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{flags}"
