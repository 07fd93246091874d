"""Request plumbing shared by the routes: body limits, keys, error bodies."""

from __future__ import annotations

import re
import secrets
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bastion.errors import BastionError, InvalidRequest, PayloadTooLarge, RateLimited

__all__ = [
    "anthropic_error_body",
    "error_response",
    "json_response",
    "new_request_id",
    "openai_error_body",
    "presented_key",
    "read_body",
]


def new_request_id() -> str:
    return secrets.token_hex(16)


def presented_key(request: Request) -> str:
    """The key from ``Authorization: Bearer`` or ``x-api-key`` (Anthropic SDKs)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
        return ""
    return request.headers.get("x-api-key", "").strip()


CONVERSATION_HEADER = "x-bastion-conversation"
_CONVERSATION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def conversation_id(request: Request) -> str | None:
    """The client's conversation id (``X-Bastion-Conversation``), if it sent one: 1-128
    letters, digits, ``.``, ``_``, ``:`` or ``-``. The DLP vault keeps a conversation's
    placeholders between its turns, for the caller that sent them."""
    value = request.headers.get(CONVERSATION_HEADER)
    if value is None:
        return None
    if _CONVERSATION_RE.fullmatch(value) is None:
        raise InvalidRequest(
            "X-Bastion-Conversation must be 1-128 letters, digits, '.', '_', ':' or '-'."
        )
    return value


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes whether or not it is chunked."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidRequest("Invalid Content-Length header.")
        if int(declared) > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
    if not body:
        raise InvalidRequest("Request body is empty; expected a JSON object.")
    return bytes(body)


def openai_error_body(error: BastionError) -> dict[str, Any]:
    return {
        "error": {
            "message": error.message,
            "type": error.error_type,
            "param": error.param,
            "code": error.code,
        }
    }


def anthropic_error_body(error: BastionError) -> dict[str, Any]:
    # Anthropic's type for a 429 (its SDK raises RateLimitError by status either way).
    error_type = "rate_limit_error" if isinstance(error, RateLimited) else error.error_type
    return {
        "type": "error",
        "error": {"type": error_type, "message": error.message, "code": error.code},
    }


def json_response(payload: Any, status: int = 200, request_id: str | None = None) -> Response:
    headers = {"x-request-id": request_id} if request_id else None
    return Response(
        orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers
    )


def error_response(
    error: BastionError, *, anthropic: bool = False, request_id: str | None = None
) -> Response:
    body = anthropic_error_body(error) if anthropic else openai_error_body(error)
    response = json_response(body, error.status, request_id)
    if error.status == 401:
        response.headers["www-authenticate"] = "Bearer"
    if isinstance(error, RateLimited):
        response.headers["retry-after"] = str(error.retry_after)
    return response
