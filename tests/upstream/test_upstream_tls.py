"""TLS to upstreams: verification always on, optional CA file, SPKI pins checked pre-request."""

from __future__ import annotations

import base64
import hashlib
import inspect
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bastion.errors import UpstreamError
from bastion.settings import ModelConfig
from bastion.testing.certs import TestPKI
from bastion.testing.scripted_upstream import ScriptedUpstream
from bastion.upstream import ChatMessage, ChatRequest, OpenAIUpstream, spki_sha256_of_cert
from bastion.upstream.pinning import PinningConnector

REQUEST = ChatRequest(model="m", messages=[ChatMessage("user", "ECHO:over tls")])


@pytest.fixture
def pki(tmp_path: Path) -> TestPKI:
    """A fresh CA and a loopback server certificate."""
    return TestPKI.create(tmp_path)


@pytest.fixture
def tls_upstream(pki: TestPKI) -> Iterator[ScriptedUpstream]:
    """The scripted upstream served over TLS on 127.0.0.1."""
    with ScriptedUpstream.running(ssl_context=pki.server_context()) as upstream:
        yield upstream


async def _call(config: ModelConfig) -> str:
    upstream = OpenAIUpstream(config)
    try:
        return (await upstream.complete(REQUEST)).choices[0].content
    finally:
        await upstream.aclose()


def _config(upstream: ScriptedUpstream, **fields: object) -> ModelConfig:
    return ModelConfig.model_validate({"name": "m", "base_url": upstream.openai_base_url, **fields})


async def test_verified_with_ca_file(tls_upstream: ScriptedUpstream, pki: TestPKI) -> None:
    """A server signed by the configured CA is trusted."""
    assert tls_upstream.base_url.startswith("https://127.0.0.1:")
    assert await _call(_config(tls_upstream, ca_file=str(pki.ca_file))) == "over tls"


async def test_unknown_ca_refused(tls_upstream: ScriptedUpstream) -> None:
    """Without the CA the certificate fails verification and nothing is sent."""
    with pytest.raises(UpstreamError, match=r"^upstream certificate verification failed$"):
        await _call(_config(tls_upstream))
    assert tls_upstream.requests == []


async def test_hostname_checked(tmp_path: Path) -> None:
    """A certificate from a trusted CA but for another host name is refused."""
    other = TestPKI.create(tmp_path, hosts=("upstream.example",))
    with ScriptedUpstream.running(ssl_context=other.server_context()) as upstream:
        with pytest.raises(UpstreamError, match="verification failed"):
            await _call(_config(upstream, ca_file=str(other.ca_file)))
        assert upstream.requests == []


async def test_correct_pin_passes(tls_upstream: ScriptedUpstream, pki: TestPKI) -> None:
    """A pin matching the server key (either notation) lets the request through."""
    pin = spki_sha256_of_cert(pki.cert_file.read_bytes())
    decoy = base64.b64encode(b"\0" * 32).decode()
    config = _config(tls_upstream, ca_file=str(pki.ca_file), spki_sha256=(decoy, f"sha256//{pin}"))
    assert await _call(config) == "over tls"
    assert len(tls_upstream.requests) == 1


async def test_wrong_pin_refused_before_any_request(
    tls_upstream: ScriptedUpstream, pki: TestPKI
) -> None:
    """A valid chain with an unpinned key is refused and the server sees no request."""
    wrong = base64.b64encode(hashlib.sha256(b"some other key").digest()).decode()
    config = _config(tls_upstream, ca_file=str(pki.ca_file), spki_sha256=(wrong,))
    with pytest.raises(UpstreamError, match=r"^upstream certificate matches no configured pin$"):
        await _call(config)
    assert tls_upstream.requests == []


async def test_pin_does_not_replace_verification(
    tls_upstream: ScriptedUpstream, pki: TestPKI
) -> None:
    """A matching pin on an untrusted chain is still refused."""
    pin = spki_sha256_of_cert(pki.cert_file.read_bytes())
    with pytest.raises(UpstreamError, match="verification failed"):
        await _call(_config(tls_upstream, spki_sha256=(pin,)))
    assert tls_upstream.requests == []


def test_spki_helper_matches_reference(pki: TestPKI) -> None:
    """The helper hashes the SubjectPublicKeyInfo DER, for PEM and DER input alike."""
    cert = x509.load_pem_x509_certificate(pki.cert_file.read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    expected = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    assert spki_sha256_of_cert(pki.cert_file.read_bytes()) == expected
    assert spki_sha256_of_cert(cert.public_bytes(Encoding.DER)) == expected
    assert spki_sha256_of_cert(pki.ca_file.read_bytes()) != expected


@pytest.mark.parametrize("pin", ["not base64!", base64.b64encode(b"short").decode()])
def test_malformed_pin_fails_at_construction(pin: str) -> None:
    """A malformed pin is a configuration error naming the model, raised up front."""
    config = ModelConfig(name="m1", base_url="https://127.0.0.1:1/v1", spki_sha256=(pin,))
    with pytest.raises(ValueError, match=r"model m1: spki_sha256 entry 1") as info:
        OpenAIUpstream(config)
    assert pin not in str(info.value)


def test_pins_need_https() -> None:
    """Pins on a plain-HTTP upstream are refused rather than silently unused."""
    pin = base64.b64encode(b"\0" * 32).decode()
    config = ModelConfig(name="m", base_url="http://127.0.0.1:1/v1", spki_sha256=(pin,))
    with pytest.raises(ValueError, match="need an https base_url"):
        OpenAIUpstream(config)


def test_missing_ca_file_fails_at_construction(tmp_path: Path) -> None:
    """An unreadable ca_file is a configuration error, raised up front."""
    config = ModelConfig(name="m", base_url="https://x/v1", ca_file=str(tmp_path / "nope.pem"))
    with pytest.raises(ValueError, match="ca_file"):
        OpenAIUpstream(config)


def test_aiohttp_hook_still_exists() -> None:
    """PinningConnector relies on aiohttp's private _wrap_create_connection hook."""
    assert aiohttp.__version__.startswith("3.")
    hook = inspect.signature(aiohttp.TCPConnector._wrap_create_connection)
    assert {"req", "timeout", "addr_infos"} <= set(hook.parameters)
    assert "_wrap_create_connection" in PinningConnector.__dict__
    source = inspect.getsource(aiohttp.TCPConnector._create_direct_connection)
    assert "self._wrap_create_connection(" in source
