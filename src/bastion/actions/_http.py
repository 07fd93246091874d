"""One outbound HTTP request, made safely: POST a JSON body to an allowed host.

Agent actions (``call_webhook``) and the approvers' notification reach outside the
gateway; the URL comes from a tenant's policy or the deployment's settings, never from
the model, but a policy author is not trusted to be right about where a name points.
So :func:`post_json` is deny by default and fails closed (server-side request forgery):

* the URL is parsed once, by the same parser the HTTP client uses (yarl), so the host
  we check is the host we connect to; only ``http``/``https``, with a host, no
  ``user:password@`` and no fragment (:func:`url_problem`);
* the host must pass :meth:`HostPolicy.check` (the ``actions_allowed_hosts`` policy),
  which resolves it and returns the addresses only when every one is allowed;
* the connection goes ONLY to those addresses: the client's resolver is replaced by one
  that returns exactly them and never asks DNS, so a second DNS answer (rebinding)
  cannot send the request elsewhere; TLS still verifies the certificate against the
  hostname in the URL;
* no redirect is followed (a 3xx is a failure: a redirect could point anywhere), no
  proxy from the environment is used (it would bypass the pinning), one total timeout
  bounds the whole exchange, and nothing of the response body is read (only the status
  matters; the client's header limits and a small read buffer bound what arrives);
* the request is ``Content-Type: application/json`` and ``User-Agent: bastion``.

It never raises for a network failure: it returns a :class:`PostResult` whose ``code``
is ``ok`` or one of :data:`ERROR_CODES`. Nothing here logs or returns the URL, the
payload or anything the server sent beyond its status code.

The API is blocking (callers run it in a worker thread): each call runs a fresh event
loop with :func:`asyncio.run`, so it must not be called from a thread running a loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from bastion.datasources._hosts import HostNotAllowed, HostPolicy

__all__ = ["ACTIONS_SETTING", "ERROR_CODES", "PostResult", "post_json", "url_problem"]

ACTIONS_SETTING = "actions_allowed_hosts (BASTION_ACTIONS_ALLOWED_HOSTS)"

PostCode = Literal[
    "ok", "bad_url", "bad_payload", "host_not_allowed", "timeout", "connect_failed", "bad_status"
]
ERROR_CODES: tuple[PostCode, ...] = (
    "bad_url",
    "bad_payload",
    "host_not_allowed",
    "timeout",
    "connect_failed",
    "bad_status",
)

_MAX_TIMEOUT = 120.0
_READ_BUFFER = 4096  # bytes buffered from the socket before reading pauses
_MAX_HEADER_LINE = 8190
_HEADERS = {"Content-Type": "application/json", "User-Agent": "bastion"}

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PostResult:
    """What came of one POST: ``code`` is ``ok`` for a 2xx answer, else an error code
    (:data:`ERROR_CODES`); ``status`` is the HTTP status when an answer arrived."""

    code: PostCode
    status: int | None = None

    @property
    def ok(self) -> bool:
        return self.code == "ok"


def url_problem(url: object) -> str | None:
    """None when ``url`` may be posted to (syntactically), else why not. The reason
    never repeats the URL (it may hold a token in its path or query)."""
    if not isinstance(url, str) or not url:
        return "is not a URL"
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        return "holds spaces or control characters"
    try:
        parsed = URL(url)
        host = parsed.raw_host
    except (ValueError, TypeError):
        return "is not a valid URL"
    if parsed.scheme not in ("http", "https"):
        return "must use http or https"
    if not host:
        return "has no host"
    if parsed.user is not None or parsed.password is not None:
        return "must not hold a user name or password"
    if parsed.fragment or "#" in url:
        return "must not have a #fragment"
    return None


def post_json(
    hosts: HostPolicy, url: str, payload: Mapping[str, object], *, timeout: float
) -> PostResult:
    """POST ``payload`` as JSON to ``url`` under the ``hosts`` allow-list (see the
    module doc). Blocking; never raises for a network failure."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a number of seconds")
    if not (math.isfinite(timeout) and 0 < timeout <= _MAX_TIMEOUT):
        raise ValueError(f"timeout must be above 0 and at most {_MAX_TIMEOUT:g} seconds")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("post_json blocks: call it from a worker thread, not a loop")
    if url_problem(url) is not None:
        return _failed("bad_url")
    parsed = URL(url)
    host = parsed.raw_host or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        body = json.dumps(
            dict(payload), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError):  # not JSON data, NaN, a lone surrogate
        return _failed("bad_payload")
    try:
        addresses = hosts.check(host, port)
    except HostNotAllowed:
        return _failed("host_not_allowed")
    try:
        return asyncio.run(_post(parsed, host, addresses, body, float(timeout)))
    except TimeoutError:  # before OSError: TimeoutError is one
        return _failed("timeout")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return _failed("connect_failed", exc)


class _PinnedResolver(AbstractResolver):
    """Answers for one host with the addresses the policy returned; never asks DNS."""

    def __init__(self, host: str, addresses: list[str]) -> None:
        self._host = _normal(host)
        self._addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if _normal(host) != self._host:  # only the checked host is ever connected to
            raise OSError("connection to an unchecked host refused")
        results: list[ResolveResult] = []
        for address in self._addresses:
            kind = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family not in (socket.AF_UNSPEC, kind):
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=port,
                    family=kind,
                    proto=0,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            raise OSError("no allowed address of the requested family")
        return results

    async def close(self) -> None:
        return None


async def _post(
    url: URL, host: str, addresses: list[str], body: bytes, seconds: float
) -> PostResult:
    async with asyncio.timeout(seconds):  # the whole exchange, whatever aiohttp does
        connector = aiohttp.TCPConnector(
            resolver=_PinnedResolver(host, addresses),
            use_dns_cache=False,
            force_close=True,
            limit=1,
        )
        async with (
            aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=seconds),
                trust_env=False,  # no proxy from the environment: it would skip the pin
                auto_decompress=False,
                read_bufsize=_READ_BUFFER,
                max_line_size=_MAX_HEADER_LINE,
                max_field_size=_MAX_HEADER_LINE,
                cookie_jar=aiohttp.DummyCookieJar(),
            ) as session,
            session.post(url, data=body, headers=_HEADERS, allow_redirects=False) as response,
        ):
            status = response.status
            response.close()  # the body is never read
    if 200 <= status < 300:
        return PostResult("ok", status)
    log.info("outbound POST answered with HTTP status %d", status)
    return PostResult("bad_status", status)


def _failed(code: PostCode, exc: BaseException | None = None) -> PostResult:
    # The exception's class only: its text may hold the URL or the server's words.
    kind = f" ({type(exc).__name__})" if exc is not None else ""
    log.info("outbound POST failed: %s%s", code, kind)
    return PostResult(code)


def _normal(host: str) -> str:
    return host.lower().rstrip(".").strip("[]")
