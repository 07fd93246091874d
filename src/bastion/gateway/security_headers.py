"""Security headers on every response (and HSTS when serving TLS)."""

from __future__ import annotations

from starlette.types import Message, Send

__all__ = ["SecurityHeaders"]


class SecurityHeaders:
    """Wraps an ASGI ``send`` so that every response start carries the headers."""

    def __init__(self, hsts_max_age: int | None = None) -> None:
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cache-control", b"no-store"),
        ]
        if hsts_max_age is not None:
            value = f"max-age={hsts_max_age}; includeSubDomains".encode()
            headers.append((b"strict-transport-security", value))
        self._headers = headers

    def wrap(self, send: Send) -> Send:
        headers = self._headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {name.lower() for name, _ in message.get("headers", [])}
                extra = [h for h in headers if h[0] not in existing]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        return send_with_headers
