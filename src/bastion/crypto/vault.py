"""HashiCorp Vault transit as the key-encryption-key provider (the ``vault`` extra).

wrap is transit ``encrypt``, unwrap is ``decrypt`` and rewrap is ``rewrap``: the
transit key never leaves Vault, and Bastion stores Vault's ciphertext string
(``vault:v<N>:<base64>``) as the wrapped key. ``hvac`` is imported when a provider is
built, so ``pip install 'bastion-gateway[vault]'`` is needed only to use it.

Binding to the context. The plaintext sent to Vault is::

    0x01 | SHA-256(associated_data("bastion.vault.wrap", context)) | data key

and unwrap compares the digest with :func:`hmac.compare_digest`, so a wrapped key
copied to another tenant, purpose or version raises :class:`UnwrapError`. Vault's
AES-GCM authenticates the whole plaintext, so the digest cannot be changed without
the transit key. This works with any transit key: Vault's own ``context`` parameter
is honoured only by keys created with ``derived=true``, a setting that a mis-created
key would silently lose. Vault sees the digest, never the tenant id.

Rotation. ``vault write -f transit/keys/<key>/rotate`` adds a key version: new wraps
use it, older ciphertexts still unwrap (down to the key's ``min_decryption_version``).
:meth:`VaultTransitProvider.rewrap` asks Vault to re-encrypt a wrapped key under the
latest version without the data key leaving Vault; the binding travels inside.

Transport. TLS is verified (system CAs, or ``ca_file``); proxy and CA-bundle
environment variables are ignored; redirects are not followed (a redirect would take
the ``X-Vault-Token`` header to another host); the token travels only in that header.

Errors: a network, TLS or HTTP failure raises :class:`KeyProviderUnavailable` (naming
the provider and the kind of failure); a ciphertext that Vault rejects (HTTP 400), or
whose binding does not match, raises :class:`UnwrapError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from bastion.crypto.aead import associated_data
from bastion.crypto.providers import KeyProviderUnavailable, UnwrapError

if TYPE_CHECKING:
    import hvac
    from hvac.api.secrets_engines.transit import Transit

__all__ = ["VaultTransitProvider", "binding"]

_INSTALL_HINT = "the HashiCorp Vault key provider needs hvac: pip install 'bastion-gateway[vault]'"
_FORMAT = 1
_DIGEST = 32
_CIPHERTEXT = re.compile(r"vault:v[1-9][0-9]{0,9}:[A-Za-z0-9+/=]+")
_SEGMENT = re.compile(r"[A-Za-z0-9_.-]+")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: safe as a header value


def binding(context: str) -> bytes:
    """The 32-byte digest a wrapped key is bound to (sent to Vault inside the plaintext)."""
    return hashlib.sha256(associated_data("bastion.vault.wrap", context)).digest()


def _path(value: str, what: str, *, nested: bool) -> str:
    parts = value.strip("/").split("/") if nested else [value]
    if not all(_SEGMENT.fullmatch(p) and p not in (".", "..") for p in parts):
        raise ValueError(f"the Vault {what} may use only letters, digits, '_', '.' and '-'")
    return "/".join(parts)


class VaultTransitProvider:
    """Wraps data keys with a Vault transit key; see the module docstring."""

    def __init__(
        self,
        address: str,
        token: SecretStr,
        *,
        mount: str = "transit",
        key: str = "bastion",
        namespace: str | None = None,
        ca_file: Path | None = None,
        timeout: int = 10,
    ) -> None:
        parts = urlsplit(address)
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if (
            parts.scheme not in ("https", "http")
            or not parts.hostname
            or not port_ok
            or parts.username is not None
            or parts.query
            or parts.fragment
        ):
            raise ValueError("the Vault address must look like https://vault.example.com:8200")
        secret = token.get_secret_value().strip()
        if not _TOKEN.fullmatch(secret):
            raise ValueError("the Vault token is empty or holds spaces or control characters")
        if ca_file is not None and not ca_file.is_file():
            raise ValueError(f"the Vault CA file {ca_file} does not exist")
        self._mount = _path(mount, "transit mount", nested=True)
        self._key = _path(key, "transit key name", nested=False)
        self._namespace = _path(namespace, "namespace", nested=True) if namespace else None
        place = f"{self._namespace}/{self._mount}" if self._namespace else self._mount
        self._key_id = f"vault:{parts.netloc}/{place}/{self._key}"
        self._client = _client(
            address.rstrip("/"), secret, self._namespace, ca_file or True, timeout
        )

    def __repr__(self) -> str:
        return f"VaultTransitProvider(key_id={self._key_id!r})"

    @property
    def key_id(self) -> str:
        return self._key_id

    def close(self) -> None:
        """Release pooled connections (the provider is unusable afterwards)."""
        self._client.adapter.close()

    def wrap(self, data_key: bytes, context: str) -> bytes:
        plaintext = base64.b64encode(bytes([_FORMAT]) + binding(context) + data_key)
        response = self._call(
            "encrypt",
            lambda transit: transit.encrypt_data(
                self._key, plaintext=plaintext.decode("ascii"), mount_point=self._mount
            ),
            unwrapping=False,
        )
        return self._ciphertext(response)

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        ciphertext = _checked(wrapped)
        response = self._call(
            "decrypt",
            lambda transit: transit.decrypt_data(
                self._key, ciphertext=ciphertext, mount_point=self._mount
            ),
            unwrapping=True,
        )
        try:
            encoded = response["data"]["plaintext"]
            plaintext = base64.b64decode(encoded, validate=True)
        except (KeyError, TypeError, binascii.Error, ValueError):
            raise UnwrapError() from None
        head, data_key = plaintext[: 1 + _DIGEST], plaintext[1 + _DIGEST :]
        expected = bytes([_FORMAT]) + binding(context)
        if not data_key or not hmac.compare_digest(head, expected):
            raise UnwrapError()
        return data_key

    def rewrap(self, wrapped: bytes, context: str) -> bytes:
        """``wrapped`` re-encrypted under the latest key version, inside Vault.

        Vault cannot check the binding (it is inside the plaintext), so ``context`` is
        checked at the next unwrap; a mis-filed key stays unopenable.
        """
        ciphertext = _checked(wrapped)
        response = self._call(
            "rewrap",
            lambda transit: transit.rewrap_data(self._key, ciphertext, mount_point=self._mount),
            unwrapping=True,
        )
        return self._ciphertext(response)

    # -- internals ------------------------------------------------------------------
    def _call(self, action: str, send: Callable[[Transit], Any], *, unwrapping: bool) -> Any:
        """``send(transit)``, with every failure turned into one of this module's errors."""
        import hvac.exceptions
        import requests

        try:
            response = send(self._client.secrets.transit)
        except hvac.exceptions.InvalidRequest:
            if unwrapping:
                raise UnwrapError() from None
            raise self._unavailable(f"{action} was refused (HTTP 400)") from None
        except (hvac.exceptions.Unauthorized, hvac.exceptions.Forbidden):
            raise self._unavailable("permission denied: check the token and its policy") from None
        except hvac.exceptions.InvalidPath:
            raise self._unavailable("no such path: check the mount and the key name") from None
        except hvac.exceptions.VaultDown:
            raise self._unavailable("Vault is sealed or in maintenance (HTTP 503)") from None
        except hvac.exceptions.VaultError as exc:
            raise self._unavailable(f"{action} failed ({type(exc).__name__})") from None
        except requests.exceptions.SSLError:
            raise self._unavailable("TLS verification failed") from None
        except requests.exceptions.Timeout:
            raise self._unavailable("timed out") from None
        except requests.exceptions.ConnectionError:
            raise self._unavailable("could not connect") from None
        except requests.exceptions.RequestException as exc:
            raise self._unavailable(f"{action} failed ({type(exc).__name__})") from None
        if not isinstance(response, dict):
            status = getattr(response, "status_code", "?")
            raise self._unavailable(f"unexpected answer to {action} (HTTP {status})")
        return response

    def _ciphertext(self, response: Any) -> bytes:
        try:
            ciphertext = response["data"]["ciphertext"]
        except (KeyError, TypeError):
            ciphertext = None
        if not isinstance(ciphertext, str) or not _CIPHERTEXT.fullmatch(ciphertext):
            raise self._unavailable("the answer holds no transit ciphertext")
        return ciphertext.encode("ascii")

    def _unavailable(self, problem: str) -> KeyProviderUnavailable:
        return KeyProviderUnavailable(self._key_id, problem)


def _checked(wrapped: bytes) -> str:
    """The ciphertext string, or :class:`UnwrapError` before anything is sent."""
    try:
        text = wrapped.decode("ascii")
    except UnicodeDecodeError:
        raise UnwrapError() from None
    if not _CIPHERTEXT.fullmatch(text):
        raise UnwrapError()
    return text


def _client(
    url: str, token: str, namespace: str | None, verify: Path | bool, timeout: int
) -> hvac.Client:
    try:
        import hvac
        import requests
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    session = requests.Session()
    session.trust_env = False  # no proxy or CA-bundle variables: only what is configured
    session.verify = str(verify) if isinstance(verify, Path) else verify
    return hvac.Client(
        url=url,
        token=token,
        namespace=namespace,
        verify=session.verify,
        timeout=timeout,
        allow_redirects=False,
        session=session,
    )
