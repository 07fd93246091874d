"""SPKI pinning on top of normal certificate verification.

A pin is the base64 SHA-256 of the leaf certificate's DER SubjectPublicKeyInfo, the
value ``curl --pinnedpubkey sha256//...`` and HPKP use; either form (with or without
the ``sha256//`` prefix) is accepted. Compute one with :func:`spki_sha256_of_cert` or::

    openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der \\
      | openssl dgst -sha256 -binary | base64

:class:`PinningConnector` checks the pin on each new connection right after the TLS
handshake (which still verifies the chain and host name) and before any request byte
is written. aiohttp's own ``Fingerprint`` is not used: it turns verification off.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections.abc import Iterable
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = ["PinMismatch", "PinningConnector", "parse_pins", "spki_sha256_of_cert"]

_PREFIX = "sha256//"


def spki_sha256_of_cert(pem_or_der: bytes) -> str:
    """The base64 SHA-256 of a certificate's SubjectPublicKeyInfo (first cert if PEM)."""
    if pem_or_der.lstrip().startswith(b"-----BEGIN"):
        cert = x509.load_pem_x509_certificate(pem_or_der)
    else:
        cert = x509.load_der_x509_certificate(pem_or_der)
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def parse_pins(pins: Iterable[str], *, model: str) -> frozenset[str]:
    """Normalise configured pins; raise ValueError naming the model and entry if one is bad."""
    out: set[str] = set()
    for position, pin in enumerate(pins, start=1):
        value = pin.strip().removeprefix(_PREFIX)
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ValueError(
                f"model {model}: spki_sha256 entry {position} is not a base64 SHA-256 "
                "digest (44 characters ending in '='); compute it with spki_sha256_of_cert"
            )
        out.add(base64.b64encode(raw).decode("ascii"))
    return frozenset(out)


class PinMismatch(aiohttp.ClientConnectorCertificateError):
    """The peer's verified certificate carries a public key that matches no pin."""


class PinningConnector(aiohttp.TCPConnector):
    """A TCPConnector that refuses new connections whose leaf SPKI matches no pin.

    With no pins it behaves exactly like TCPConnector. Relies on aiohttp calling
    ``_wrap_create_connection`` for every new direct connection (checked by a test).
    """

    def __init__(self, *, pins: frozenset[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pins = pins

    async def _wrap_create_connection(
        self, *args: Any, **kwargs: Any
    ) -> tuple[asyncio.Transport, ResponseHandler]:
        transport, protocol = await super()._wrap_create_connection(*args, **kwargs)
        if self._pins and not self._pinned(transport):
            transport.abort()
            raise PinMismatch(
                kwargs["req"].connection_key,
                ValueError("peer public key matches no configured SPKI pin"),
            )
        return transport, protocol

    def _pinned(self, transport: asyncio.Transport) -> bool:
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return False  # pins configured but no TLS: fail closed
        der = ssl_object.getpeercert(binary_form=True)
        return der is not None and spki_sha256_of_cert(der) in self._pins
