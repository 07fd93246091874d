"""A real OpenID Provider on loopback for the tests: panva's ``oidc-provider`` (npm)
run by ``tests/idp/oidc/op.mjs`` under Node.

:class:`OidcProvider` installs the locked npm packages with ``npm ci`` when
``node_modules`` is missing, starts ``node op.mjs`` on a free 127.0.0.1 port, waits
until its discovery document answers, and stops it by PID. Keys are generated per run
(no private key is committed); :meth:`OidcProvider.restart` with a new key set on the
same port is a JWKS rotation. :meth:`OidcProvider.login` plays the browser through
the provider's development login and consent pages; :meth:`OidcProvider.exchange`
redeems a code directly, for tests that need the raw tokens.

No pytest here: the helper also serves manual runs and the demo.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
from joserfc.jwk import ECKey, RSAKey

from tests.ports import free_port

OP_DIR = Path(__file__).resolve().parents[1] / "idp" / "oidc"
READY_DEADLINE_SECONDS = 30.0


def missing_programs() -> list[str]:
    """What the OIDC tests need and this machine lacks (empty when all is there)."""
    return [name for name in ("node", "npm") if shutil.which(name) is None]


def ensure_node_modules() -> None:
    """``npm ci`` from the committed lock file, once per checkout."""
    if (OP_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        return
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=OP_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def make_jwks(prefix: str) -> dict[str, Any]:
    """A private JWKS for the provider: an RSA key (signs first) and an EC P-256 key,
    with kids starting with ``prefix``."""
    rsa = RSAKey.generate_key(2048, parameters={"kid": f"{prefix}-rsa", "use": "sig"})
    ec = ECKey.generate_key("P-256", parameters={"kid": f"{prefix}-ec", "use": "sig"})
    return {"keys": [rsa.as_dict(private=True), ec.as_dict(private=True)]}


@dataclass(frozen=True)
class Account:
    email: str
    email_verified: bool = True
    name: str = ""
    groups: Sequence[str] = ()


DEFAULT_ACCOUNTS: Mapping[str, Account] = {
    "alice": Account("alice@example.com", True, "Alice", ("eng", "bastion-admins")),
    "bob": Account("bob@example.com", False, "Bob", ("eng",)),
    "carol": Account("carol@elsewhere.test", True, "Carol", ()),
}


@dataclass
class OidcProvider:
    """One ``node op.mjs`` process; see the module docstring."""

    redirect_uri: str = "http://127.0.0.1:9/sso/callback"
    client_id: str = "bastion"
    client_secret: str = "op-test-client-secret"
    api_audience: str = "https://bastion.test/api"
    accounts: Mapping[str, Account] = field(default_factory=lambda: dict(DEFAULT_ACCOUNTS))
    jwks: dict[str, Any] = field(default_factory=lambda: make_jwks("k1"))
    id_token_ttl: int = 600
    access_token_ttl: int = 600
    port: int = field(default_factory=free_port)
    startup_seconds: float = 0.0
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OidcProvider:
        ensure_node_modules()
        env = {
            **os.environ,
            "OP_PORT": str(self.port),
            "OP_CLIENT_ID": self.client_id,
            "OP_CLIENT_SECRET": self.client_secret,
            "OP_REDIRECT_URI": self.redirect_uri,
            "OP_API_AUDIENCE": self.api_audience,
            "OP_JWKS": json.dumps(self.jwks),
            "OP_ACCOUNTS": json.dumps(
                {
                    login: vars(account) | {"groups": list(account.groups)}
                    for login, account in self.accounts.items()
                }
            ),
            "OP_ID_TOKEN_TTL": str(self.id_token_ttl),
            "OP_ACCESS_TOKEN_TTL": str(self.access_token_ttl),
        }
        began = time.monotonic()
        self._process = subprocess.Popen(
            ["node", "op.mjs"],
            cwd=OP_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.stderr is not None:
                process.stderr.close()

    def restart(self, *, jwks: dict[str, Any] | None = None) -> None:
        """Stop and start again on the same port (same issuer), e.g. with new keys.
        Sessions, grants and codes are lost: the provider keeps them in memory."""
        self.stop()
        if jwks is not None:
            self.jwks = jwks
        self.start()

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        url = f"{self.issuer}/.well-known/openid-configuration"
        deadline = time.monotonic() + READY_DEADLINE_SECONDS
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode() if self._process.stderr else ""
                raise RuntimeError(f"op.mjs exited ({self._process.returncode}): {stderr}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"op.mjs did not answer {url} within {READY_DEADLINE_SECONDS}s")

    def login(self, authorization_url: str, account: str, *, abort: bool = False) -> dict[str, str]:
        """Play the browser: open ``authorization_url``, sign in as ``account`` on the
        development login page, consent (or abort), and return the query parameters
        the provider redirected to ``redirect_uri`` with."""
        with httpx.Client(timeout=10) as browser:
            url = authorization_url
            for _ in range(12):
                if url.startswith(self.redirect_uri):
                    return dict(parse_qsl(urlsplit(url).query))
                response = browser.get(url)
                if response.is_redirect:
                    url = urljoin(url, response.headers["location"])
                    continue
                response.raise_for_status()
                if abort:
                    response = browser.get(url.rstrip("/") + "/abort")
                elif 'name="login"' in response.text:
                    form = {"prompt": "login", "login": account, "password": "any"}
                    response = browser.post(url, data=form)
                else:
                    response = browser.post(url, data={"prompt": "consent"})
                if not response.is_redirect:
                    raise RuntimeError(f"the provider answered {response.status_code}")
                url = urljoin(url, response.headers["location"])
        raise RuntimeError("the login did not come back to the redirect URI")

    def exchange(self, code: str, code_verifier: str) -> dict[str, Any]:
        """Redeem ``code`` at the token endpoint as the client; the raw token response."""
        response = httpx.post(
            f"{self.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": code_verifier,
            },
            auth=(self.client_id, self.client_secret),
            timeout=10,
        )
        response.raise_for_status()
        tokens: dict[str, Any] = response.json()
        return tokens
