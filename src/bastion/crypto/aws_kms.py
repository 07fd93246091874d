"""AWS KMS as the key-encryption-key provider (the ``aws`` extra).

wrap is KMS ``Encrypt``, unwrap is ``Decrypt`` and rewrap is ``ReEncrypt``, each with
``EncryptionContext={"bastion": context}``: KMS binds the ciphertext to the context
itself, so a wrapped key copied to another tenant, purpose or version does not
decrypt. ``Decrypt`` names the configured key, so a ciphertext made under any other
key is refused too. ``boto3`` is imported when a provider is built, so
``pip install 'bastion-gateway[aws]'`` is needed only to use it.

Credentials come from the standard AWS chain (environment, shared config, instance
or task role); Bastion holds none. Rotation: with automatic key rotation KMS keeps
every backing key, so old ciphertexts keep decrypting; :meth:`AwsKmsProvider.rewrap`
re-encrypts a wrapped key under the configured key's current material (or moves it
from another KMS key to this one) without the data key leaving KMS.

Errors: a network, credential, permission or throttling failure raises
:class:`KeyProviderUnavailable` naming the provider and the AWS error code; a
ciphertext KMS rejects (``InvalidCiphertextException``, ``IncorrectKeyException``)
raises :class:`UnwrapError`.
"""

from __future__ import annotations

import re
from typing import Any

from bastion.crypto.providers import KeyProviderUnavailable, UnwrapError

__all__ = ["AwsKmsProvider"]

_INSTALL_HINT = "the AWS KMS key provider needs boto3: pip install 'bastion-gateway[aws]'"
# Codes KMS answers for a ciphertext that is not this key's, or not for this context.
_NOT_OURS = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})
_MAX_CIPHERTEXT = 6144
_CODE = re.compile(r"[A-Za-z0-9.]{1,64}")


class AwsKmsProvider:
    """Wraps data keys with an AWS KMS symmetric key; see the module docstring."""

    def __init__(
        self,
        key_id: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        max_attempts: int = 3,
    ) -> None:
        if not key_id.strip():
            raise ValueError("the AWS KMS key id is empty: give a key id, key ARN or alias")
        try:
            import boto3
            from botocore.config import Config
            from botocore.exceptions import NoRegionError
        except ImportError:
            raise ImportError(_INSTALL_HINT) from None
        self._key = key_id.strip()
        self._key_id = f"aws-kms:{self._key}"
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            user_agent_extra="bastion",
        )
        try:
            # A session of its own: nothing is shared with boto3's module-level default.
            self._client: Any = boto3.session.Session().client(
                "kms", region_name=region, endpoint_url=endpoint_url, config=config
            )
        except NoRegionError:
            raise ValueError("no AWS region: set BASTION_AWS_REGION (or AWS_REGION)") from None

    def __repr__(self) -> str:
        return f"AwsKmsProvider(key_id={self._key_id!r})"

    @property
    def key_id(self) -> str:
        return self._key_id

    def close(self) -> None:
        """Release pooled connections (the provider is unusable afterwards)."""
        self._client.close()

    def wrap(self, data_key: bytes, context: str) -> bytes:
        response = self._call(
            "Encrypt",
            unwrapping=False,
            KeyId=self._key,
            Plaintext=data_key,
            EncryptionContext=_context(context),
        )
        return self._field(response, "CiphertextBlob")

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        _check(wrapped)
        response = self._call(
            "Decrypt",
            unwrapping=True,
            KeyId=self._key,
            CiphertextBlob=wrapped,
            EncryptionContext=_context(context),
        )
        return self._field(response, "Plaintext")

    def rewrap(self, wrapped: bytes, context: str) -> bytes:
        """``wrapped`` re-encrypted under the configured key, inside KMS (context checked)."""
        _check(wrapped)
        response = self._call(
            "ReEncrypt",
            unwrapping=True,
            CiphertextBlob=wrapped,
            SourceEncryptionContext=_context(context),
            DestinationKeyId=self._key,
            DestinationEncryptionContext=_context(context),
        )
        return self._field(response, "CiphertextBlob")

    # -- internals ------------------------------------------------------------------
    def _call(self, operation: str, *, unwrapping: bool, **arguments: Any) -> Any:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
            SSLError,
        )

        method = {
            "Encrypt": self._client.encrypt,
            "Decrypt": self._client.decrypt,
            "ReEncrypt": self._client.re_encrypt,
        }[operation]
        try:
            return method(**arguments)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            code = code if _CODE.fullmatch(code) else "unknown error"
            if unwrapping and code in _NOT_OURS:
                raise UnwrapError() from None
            raise self._unavailable(f"{operation} failed ({code})") from None
        except NoCredentialsError:
            raise self._unavailable("no AWS credentials found") from None
        except SSLError:
            raise self._unavailable("TLS verification failed") from None
        except (ConnectTimeoutError, ReadTimeoutError):
            raise self._unavailable("timed out") from None
        except EndpointConnectionError:
            raise self._unavailable("could not connect") from None
        except BotoCoreError as exc:
            raise self._unavailable(f"{operation} failed ({type(exc).__name__})") from None

    def _field(self, response: Any, name: str) -> bytes:
        value = response.get(name) if isinstance(response, dict) else None
        if not isinstance(value, bytes) or not value:
            raise self._unavailable(f"the answer holds no {name}")
        return value

    def _unavailable(self, problem: str) -> KeyProviderUnavailable:
        return KeyProviderUnavailable(self._key_id, problem)


def _context(context: str) -> dict[str, str]:
    return {"bastion": context}


def _check(wrapped: bytes) -> None:
    """KMS takes 1 to 6144 bytes; anything else cannot be ours (nothing is sent)."""
    if not 0 < len(wrapped) <= _MAX_CIPHERTEXT:
        raise UnwrapError()
