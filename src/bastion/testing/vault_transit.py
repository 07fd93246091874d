"""A stand-in for HashiCorp Vault's transit engine: the endpoints Bastion uses, on loopback.

This is **not Vault**: no storage, policies, leases or audit devices. It is a small
aiohttp server that answers the transit API with Vault's request and response shapes
so that the Vault key provider can be tested over real HTTP without a Vault binary:

* ``POST /v1/<mount>/keys/<name>``: create an ``aes256-gcm96`` key (204);
* ``POST /v1/<mount>/keys/<name>/rotate``: add a key version (204);
* ``POST /v1/<mount>/keys/<name>/config``: ``min_decryption_version`` (204);
* ``POST /v1/<mount>/encrypt/<name>``: ``{"plaintext": b64}`` ->
  ``{"data": {"ciphertext": "vault:v<N>:<b64>", "key_version": N}}`` (a missing key is
  created first, as Vault's upsert does);
* ``POST /v1/<mount>/decrypt/<name>``: ``{"ciphertext"}`` -> ``{"data": {"plaintext"}}``;
* ``POST /v1/<mount>/rewrap/<name>``: ``{"ciphertext"}`` -> the latest version's.

Ciphertexts are real AES-256-GCM (``cryptography``): base64 of nonce (12 bytes) and
ciphertext with tag, as Vault's. A request without the configured ``X-Vault-Token``
(or, when ``namespace`` is set, without that ``X-Vault-Namespace``) answers 403
``{"errors": ["permission denied"]}``; a bad ciphertext answers 400 with Vault's kind
of message; ``sealed = True`` makes every request answer 503. Every request is kept in
``requests`` (method, path, query, lower-cased headers, JSON body) so tests can check
what went over the wire.

    with VaultTransitStandIn.running(token="t0k3n") as vault:
        vault.base_url      # "http://127.0.0.1:PORT"
        vault.requests      # [RecordedRequest, ...]
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import ssl
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bastion.testing._loopback import serve_in_thread
from bastion.testing.scripted_upstream import RecordedRequest

__all__ = ["VaultTransitStandIn"]

_NONCE = 12
_CIPHERTEXT = re.compile(r"vault:v([0-9]+):(.*)", re.DOTALL)
_KEY_ROUTE = r"/v1/{mount:.+}/keys/{name:[^/]+}"
_DATA_ROUTE = r"/v1/{mount:.+}/{action:encrypt|decrypt|rewrap}/{name:[^/]+}"
_BODY = web.RequestKey("body", dict[str, Any])


class _BadRequest(Exception):
    """Answered as 400 with Vault's ``{"errors": [message]}``."""


class VaultTransitStandIn:
    """The server's keys and handlers; run it with :meth:`running`."""

    def __init__(
        self,
        *,
        token: str,
        namespace: str | None = None,
        mount: str = "transit",
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.token = token
        self.namespace = namespace
        self.mount = mount
        self.sealed = False
        self.base_url = ""
        self.requests: list[RecordedRequest] = []
        self._random = random
        self._keys: dict[str, list[bytes]] = {}
        self._min_decryption: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"VaultTransitStandIn(base_url={self.base_url!r}, keys={sorted(self._keys)})"

    # -- keys, also reachable without HTTP for test set-up ----------------------------
    def create_key(self, name: str) -> None:
        self._keys.setdefault(name, [self._random(32)])

    def rotate(self, name: str) -> int:
        """Add a key version; returns the new latest version."""
        self._keys[name].append(self._random(32))
        return len(self._keys[name])

    def latest_version(self, name: str) -> int:
        return len(self._keys[name])

    # -- crypto ----------------------------------------------------------------------
    def _encrypt(self, name: str, plaintext: bytes) -> dict[str, Any]:
        version = len(self._keys[name])
        nonce = self._random(_NONCE)
        sealed = nonce + AESGCM(self._keys[name][-1]).encrypt(nonce, plaintext, None)
        text = f"vault:v{version}:{base64.b64encode(sealed).decode()}"
        return {"ciphertext": text, "key_version": version}

    def _decrypt(self, name: str, ciphertext: Any) -> bytes:
        if name not in self._keys:
            raise _BadRequest("encryption key not found")
        match = _CIPHERTEXT.fullmatch(ciphertext) if isinstance(ciphertext, str) else None
        if match is None:
            raise _BadRequest("invalid ciphertext: no prefix")
        version = int(match.group(1))
        if version < self._min_decryption.get(name, 1):
            raise _BadRequest("ciphertext or signature version is disallowed by policy (too old)")
        if not 1 <= version <= len(self._keys[name]):
            raise _BadRequest("invalid key version")
        try:
            sealed = base64.b64decode(match.group(2), validate=True)
            key = AESGCM(self._keys[name][version - 1])
            return key.decrypt(sealed[:_NONCE], sealed[_NONCE:], None)
        except (binascii.Error, ValueError, InvalidTag):
            raise _BadRequest("cipher: message authentication failed") from None

    # -- HTTP ------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_post(_KEY_ROUTE, self._create)
        app.router.add_post(_KEY_ROUTE + "/rotate", self._rotate)
        app.router.add_post(_KEY_ROUTE + "/config", self._config)
        app.router.add_post(_DATA_ROUTE, self._data)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            body = None
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
        )
        if self.sealed:
            return _errors(503, "Vault is sealed")
        token = request.headers.get("X-Vault-Token", "")
        namespace = request.headers.get("X-Vault-Namespace")
        if not hmac.compare_digest(token.encode(), self.token.encode()) or (
            self.namespace is not None and namespace != self.namespace
        ):
            return _errors(403, "permission denied")
        if not isinstance(body, dict):
            return _errors(400, "failed to parse JSON input")
        if request.match_info.get("mount") != self.mount:
            return _errors(404, f"no handler for route '{request.path}'")
        request[_BODY] = body
        try:
            return await handler(request)
        except _BadRequest as exc:
            return _errors(400, str(exc))

    async def _create(self, request: web.Request) -> web.StreamResponse:
        self.create_key(request.match_info["name"])
        return web.Response(status=204)

    async def _rotate(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self._keys:
            raise _BadRequest("key not found")
        self.rotate(name)
        return web.Response(status=204)

    async def _config(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        version = request[_BODY].get("min_decryption_version")
        if name not in self._keys or not isinstance(version, int):
            raise _BadRequest("key not found, or min_decryption_version is not a number")
        if not 1 <= version <= len(self._keys[name]):
            raise _BadRequest("cannot set min decryption version above the latest version")
        self._min_decryption[name] = version
        return web.Response(status=204)

    async def _data(self, request: web.Request) -> web.StreamResponse:
        name, action = request.match_info["name"], request.match_info["action"]
        body = request[_BODY]
        if action == "encrypt":
            try:
                plaintext = base64.b64decode(body.get("plaintext", ""), validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise _BadRequest("failed to base64-decode plaintext") from None
            self.create_key(name)
            return _ok(self._encrypt(name, plaintext))
        plaintext = self._decrypt(name, body.get("ciphertext"))
        if action == "rewrap":
            return _ok(self._encrypt(name, plaintext))
        return _ok({"plaintext": base64.b64encode(plaintext).decode()})

    @classmethod
    @contextmanager
    def running(
        cls,
        *,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
        **options: Any,
    ) -> Iterator[VaultTransitStandIn]:
        """Serve on ``host`` and a free port from a background thread with its own loop."""
        vault = cls(**options)
        with serve_in_thread(vault.app, host=host, ssl_context=ssl_context) as base_url:
            vault.base_url = base_url
            yield vault


def _ok(data: dict[str, Any]) -> web.Response:
    body = {
        "request_id": str(uuid.uuid4()),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": data,
        "wrap_info": None,
        "warnings": None,
        "auth": None,
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _errors(status: int, *messages: str) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"errors": list(messages)}),
        content_type="application/json",
    )
