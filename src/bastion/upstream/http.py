"""The pooled HTTP transport to one upstream, and the mapping of its failures.

One :class:`UpstreamHTTP` per :class:`~bastion.settings.ModelConfig` owns one aiohttp
``ClientSession`` (created lazily inside the running loop) with a keep-alive pool.
TLS is always verified for https (system store plus ``ca_file``), optionally with SPKI
pins; redirects are never followed (they could carry the key elsewhere); cookies and
proxy environment variables are ignored.

Failures become :mod:`bastion.errors` exceptions whose messages never contain the
prompt, the key or the upstream's response body:

* connect failures -> ``UpstreamError("upstream unreachable")`` (or a TLS message)
* timeouts (connect or between reads) -> ``UpstreamTimeout``
* non-2xx -> :class:`UpstreamStatusError` naming the status and the provider's
  error type/code when they look like identifiers
* unparsable bodies -> ``UpstreamError("upstream sent an invalid response")``
"""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any

import aiohttp
import orjson
from yarl import URL

from bastion.errors import UpstreamError, UpstreamTimeout
from bastion.settings import ModelConfig
from bastion.upstream.pinning import PinMismatch, PinningConnector, parse_pins
from bastion.upstream.sse import SSEError, SSEEvent, SSEParser

__all__ = [
    "UpstreamHTTP",
    "UpstreamStatusError",
    "build_ssl_context",
    "invalid_response",
    "loads",
    "provider_error",
    "stream_error",
]

CONNECTION_LIMIT = 256
DNS_CACHE_TTL = 300
KEEPALIVE_SECONDS = 30.0
ERROR_BODY_LIMIT = 64 * 1024
_IDENTIFIER = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class UpstreamStatusError(UpstreamError):
    """The upstream answered with a non-2xx status (kept in ``upstream_status``)."""

    def __init__(
        self, upstream_status: int, error_type: str | None = None, error_code: str | None = None
    ) -> None:
        detail = "/".join(part for part in (error_type, error_code) if part)
        message = f"upstream returned HTTP {upstream_status}"
        super().__init__(f"{message} ({detail})" if detail else message)
        self.upstream_status = upstream_status
        self.upstream_error_type = error_type
        self.upstream_error_code = error_code


def invalid_response() -> UpstreamError:
    """The error for a body or event the adapter cannot understand."""
    return UpstreamError("upstream sent an invalid response")


def loads(raw: bytes) -> Any:
    """Decode upstream JSON; the decoder's error (which holds the body) is dropped."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_response() from None


def provider_error(payload: Any) -> tuple[str | None, str | None]:
    """(type, code) from an OpenAI- or Anthropic-shaped error object, identifiers only."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None, None
    kind, code = error.get("type"), error.get("code")
    return _identifier(kind), _identifier(str(code) if isinstance(code, int) else code)


def stream_error(payload: Any) -> UpstreamError:
    """The error for an error event inside a 2xx stream (type/code only)."""
    detail = "/".join(part for part in provider_error(payload) if part)
    message = "upstream error mid-stream"
    return UpstreamError(f"{message} ({detail})" if detail else message)


def _identifier(value: Any) -> str | None:
    if isinstance(value, str) and _IDENTIFIER.fullmatch(value):
        return value
    return None


def build_ssl_context(config: ModelConfig) -> ssl.SSLContext:
    """A verifying client context: system trust store plus ``ca_file`` if set."""
    context = ssl.create_default_context()
    if config.ca_file:
        try:
            context.load_verify_locations(cafile=config.ca_file)
        except (OSError, ssl.SSLError):
            raise ValueError(
                f"model {config.name}: ca_file {config.ca_file} is not a readable PEM bundle"
            ) from None
    return context


def _auth_header_name(config: ModelConfig) -> str:
    style = config.auth_style or ("anthropic" if config.provider == "anthropic" else "bearer")
    if style == "azure":
        return "api-key"
    if style == "anthropic":
        return "x-api-key"
    return "Authorization"


class UpstreamHTTP:
    """Session, TLS policy, auth header and error mapping for one configured upstream."""

    __slots__ = ("_auth_name", "_closed", "_config", "_headers", "_pins", "_session", "_ssl")

    def __init__(self, config: ModelConfig, *, headers: Mapping[str, str] | None = None) -> None:
        self._config = config
        self._pins = parse_pins(config.spki_sha256, model=config.name)
        if self._pins and not config.base_url.startswith("https://"):
            raise ValueError(f"model {config.name}: spki_sha256 pins need an https base_url")
        self._ssl = build_ssl_context(config)
        self._auth_name = _auth_header_name(config)
        self._headers = {
            "Content-Type": "application/json",
            **(headers or {}),
            **config.headers,
        }
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"UpstreamHTTP(model={self._config.name!r})"

    def url(self, path: str) -> URL:
        """``base_url`` + ``path`` with the configured query parameters."""
        url = URL(self._config.base_url.rstrip("/") + path)
        return url.update_query(self._config.query) if self._config.query else url

    def _session_now(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            if self._closed:
                raise RuntimeError("this upstream client has been closed")
            connector = PinningConnector(
                pins=self._pins,
                ssl=self._ssl,
                limit=CONNECTION_LIMIT,
                limit_per_host=0,
                ttl_dns_cache=DNS_CACHE_TTL,
                keepalive_timeout=KEEPALIVE_SECONDS,
            )
            timeout = aiohttp.ClientTimeout(
                total=None,
                sock_connect=self._config.connect_timeout,
                sock_read=self._config.read_timeout,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                headers=self._headers,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
            self._session = session
        return session

    def _auth(self) -> dict[str, str] | None:
        key = self._config.api_key()
        if not key:
            return None
        return {self._auth_name: f"Bearer {key}" if self._auth_name == "Authorization" else key}

    async def post_json(self, url: URL, body: bytes) -> Any:
        """POST ``body`` (JSON bytes) and return the decoded 2xx JSON answer."""
        try:
            async with self._session_now().post(
                url, data=body, headers=self._auth(), allow_redirects=False
            ) as response:
                if response.status >= 300:
                    raise await _status_error(response)
                raw = await response.read()
        except TimeoutError as exc:
            raise UpstreamTimeout("upstream timed out") from exc
        except aiohttp.ClientError as exc:
            raise _connection_error(exc) from exc
        return loads(raw)

    async def events(self, url: URL, body: bytes) -> AsyncGenerator[SSEEvent, None]:
        """POST ``body`` and yield the SSE events of the 2xx answer as they arrive.

        Close the iterator (``contextlib.aclosing``) to release the connection early.
        """
        async with aclosing(self.event_batches(url, body)) as batches:
            async for batch in batches:
                for event in batch:
                    yield event

    async def event_batches(self, url: URL, body: bytes) -> AsyncGenerator[list[SSEEvent], None]:
        """Like :meth:`events`, but one list per network read (never empty).

        Adapters coalesce the deltas of one read, so a fast upstream costs one output
        scan per read instead of one per token.
        """
        parser = SSEParser()
        try:
            async with self._session_now().post(
                url, data=body, headers=self._auth(), allow_redirects=False
            ) as response:
                if response.status >= 300:
                    raise await _status_error(response)
                async for chunk in response.content.iter_any():
                    batch = parser.feed(chunk)
                    if batch:
                        yield batch
                tail = parser.close()
                if tail:
                    yield tail
        except TimeoutError as exc:
            raise UpstreamTimeout("upstream timed out") from exc
        except aiohttp.ClientError as exc:
            raise _connection_error(exc) from exc
        except SSEError:
            raise invalid_response() from None

    async def aclose(self) -> None:
        """Close the pool; later requests raise RuntimeError."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()


async def _status_error(response: aiohttp.ClientResponse) -> UpstreamStatusError:
    try:
        raw = await response.content.read(ERROR_BODY_LIMIT)
        payload = orjson.loads(raw)
    except (orjson.JSONDecodeError, aiohttp.ClientError, TimeoutError):
        payload = None
    return UpstreamStatusError(response.status, *provider_error(payload))


def _connection_error(exc: aiohttp.ClientError) -> UpstreamError:
    if isinstance(exc, PinMismatch):
        return UpstreamError("upstream certificate matches no configured pin")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return UpstreamError("upstream certificate verification failed")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamError("upstream unreachable")
    return UpstreamError("upstream connection failed")
