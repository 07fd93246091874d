"""A real SAML 2.0 IdP on loopback for the tests: Debian's SimpleSAMLphp under PHP's
built-in web server.

The configuration templates live in ``tests/idp/saml``; they read every per-run value
from a ``settings.json`` that :func:`running_idp` writes beside them in a temporary
directory, together with an IdP key pair generated for the run (no private key is
committed). The server is started with ``php -S 127.0.0.1:PORT`` on a free port, is
ready once its metadata URL answers, and is stopped by its PID.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.ports import free_port

TEMPLATES = Path(__file__).resolve().parents[1] / "idp" / "saml"
SIMPLESAMLPHP_WWW = Path("/usr/share/simplesamlphp/www")
READY_DEADLINE_SECONDS = 30.0


def missing_programs() -> list[str]:
    """What the SAML tests need and this machine lacks (empty when all is there)."""
    missing = [name for name in ("php", "xmlsec1") if shutil.which(name) is None]
    if not SIMPLESAMLPHP_WWW.is_dir():
        missing.append("simplesamlphp")
    return missing


@dataclass(frozen=True)
class KeyPair:
    """A PEM private key and its self-signed certificate, made for one test run."""

    key_pem: str
    cert_pem: str

    @property
    def cert_base64(self) -> str:
        """The certificate's DER in base64, as SAML metadata carries it."""
        lines = self.cert_pem.strip().splitlines()
        return "".join(line for line in lines if not line.startswith("-----"))

    def __repr__(self) -> str:
        return "KeyPair(...)"


def make_key_pair(common_name: str) -> KeyPair:
    """A fresh RSA-2048 key and a self-signed certificate valid for a year."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return KeyPair(key_pem, cert.public_bytes(serialization.Encoding.PEM).decode())


@dataclass(frozen=True)
class SpEntry:
    """A service provider the IdP knows (saml20-sp-remote.php)."""

    entity_id: str
    acs_url: str
    sign_assertion: bool = True
    sign_response: bool = True
    certificate: KeyPair | None = None  # set: the IdP requires signed AuthnRequests


@dataclass(frozen=True)
class IdpUser:
    """A username and password for the login form, and the attributes the IdP asserts."""

    username: str
    password: str
    attributes: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunningIdp:
    base_url: str
    entity_id: str
    metadata_url: str
    metadata_xml: str
    keys: KeyPair
    directory: Path

    @property
    def key_file(self) -> Path:
        return self.directory / "cert" / "idp.key"

    @property
    def cert_file(self) -> Path:
        return self.directory / "cert" / "idp.crt"


def _render(
    directory: Path,
    base_url: str,
    entity_id: str,
    keys: KeyPair,
    sps: Sequence[SpEntry],
    users: Sequence[IdpUser],
) -> None:
    shutil.copytree(TEMPLATES, directory, dirs_exist_ok=True)
    for sub in ("cert", "log", "data", "tmp", "sessions"):
        (directory / sub).mkdir(exist_ok=True)
    key_path = directory / "cert" / "idp.key"
    key_path.write_text(keys.key_pem)
    key_path.chmod(0o600)
    (directory / "cert" / "idp.crt").write_text(keys.cert_pem)
    settings = {
        "dir": str(directory),
        "base_url": base_url,
        "idp_entity_id": entity_id,
        "secret_salt": secrets.token_hex(16),
        "admin_password": secrets.token_hex(16),
        "users": [
            {
                "username": user.username,
                "password": user.password,
                "attributes": {k: list(v) for k, v in user.attributes.items()},
            }
            for user in users
        ],
        "sps": [
            {
                "entity_id": sp.entity_id,
                "acs_url": sp.acs_url,
                "sign_assertion": sp.sign_assertion,
                "sign_response": sp.sign_response,
                "certificate": sp.certificate.cert_base64 if sp.certificate else None,
            }
            for sp in sps
        ],
    }
    (directory / "settings.json").write_text(json.dumps(settings))


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> str:
    """The metadata XML once the server serves it; fails when the server exits or the
    deadline passes (a start-up bound, not a timed assertion)."""
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"php -S exited with {process.returncode}: {log.read_text()}")
        try:
            response = httpx.get(url, timeout=2.0)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if response.status_code == 200 and "EntityDescriptor" in response.text:
            return response.text
        raise RuntimeError(f"IdP metadata answered {response.status_code}: {response.text[:500]}")
    raise RuntimeError(f"SimpleSAMLphp did not answer {url}: {log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def running_idp(
    directory: Path,
    *,
    sps: Sequence[SpEntry],
    users: Sequence[IdpUser],
    keys: KeyPair | None = None,
) -> Iterator[RunningIdp]:
    """Render the config into ``directory``, start SimpleSAMLphp, yield it, stop it."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    entity_id = f"{base_url}/saml2/idp/metadata.php"
    keys = keys or make_key_pair("bastion-test-idp")
    _render(directory, base_url, entity_id, keys, sps, users)
    log = directory / "log" / "php-server.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SIMPLESAMLPHP_CONFIG_DIR": str(directory),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["php", "-S", f"127.0.0.1:{port}", "-t", str(SIMPLESAMLPHP_WWW)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        metadata = _wait_ready(process, entity_id, log)
        yield RunningIdp(base_url, entity_id, entity_id, metadata, keys, directory)
    finally:
        _stop(process)
