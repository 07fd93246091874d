"""Pure-ASGI middleware adding security headers (and HSTS when serving TLS)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeadersMiddleware"]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp | None, hsts_max_age: int | None = None) -> None:
        self.app = app
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("no app to wrap")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self.wrap(send))

    def wrap(self, send: Send) -> Send:
        """``send`` with the security headers added to the response start."""
        headers = self._headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {name.lower() for name, _ in message.get("headers", [])}
                extra = [h for h in headers if h[0] not in existing]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        return send_with_headers
