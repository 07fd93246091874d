"""The key-encryption-key provider the settings ask for (``BASTION_KEK_PROVIDER``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import SecretStr
from sqlalchemy import Engine

from bastion.crypto.aws_kms import AwsKmsProvider
from bastion.crypto.keyring import Keyring
from bastion.crypto.providers import KeyProvider, LocalKeyProvider
from bastion.crypto.vault import VaultTransitProvider
from bastion.settings import Settings, read_kek

__all__ = ["keyring_for", "provider_for", "read_vault_token"]


def provider_for(settings: Settings) -> KeyProvider | None:
    """The configured provider; None only for ``local`` when no KEK is configured.

    Nothing is contacted here. Raises ValueError naming what to fix when the settings
    are incomplete or malformed, and ImportError with the ``pip install`` command when
    the provider's extra is not installed.
    """
    if settings.kek_provider == "vault":
        if not settings.vault_addr:
            raise ValueError("BASTION_KEK_PROVIDER=vault needs BASTION_VAULT_ADDR")
        token = read_vault_token(settings)
        if token is None:
            raise ValueError(
                "BASTION_KEK_PROVIDER=vault needs BASTION_VAULT_TOKEN_FILE (or BASTION_VAULT_TOKEN)"
            )
        return VaultTransitProvider(
            settings.vault_addr,
            token,
            mount=settings.vault_transit_mount,
            key=settings.vault_transit_key,
            namespace=settings.vault_namespace,
            ca_file=settings.vault_ca_file,
        )
    if settings.kek_provider == "aws-kms":
        if not settings.aws_kms_key_id:
            raise ValueError("BASTION_KEK_PROVIDER=aws-kms needs BASTION_AWS_KMS_KEY_ID")
        return AwsKmsProvider(
            settings.aws_kms_key_id,
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
        )
    kek = read_kek(settings)
    return LocalKeyProvider(kek) if kek is not None else None


def keyring_for(
    settings: Settings, engine: Engine, clock: Callable[[], datetime] | None = None
) -> Keyring | None:
    """The process's keyring under the configured provider; None without a KEK.

    A local provider with a missing or malformed KEK gives None (``bastion serve``
    refuses that unless ``--dev``). A chosen Vault or KMS provider never falls back:
    its ValueError (settings to fix) or ImportError (the pip command) propagates.
    """
    try:
        provider = provider_for(settings)
    except ValueError:
        if settings.kek_provider != "local":
            raise
        return None
    if provider is None:
        return None
    return Keyring(
        engine,
        provider,
        clock or (lambda: datetime.now(UTC)),
        refresh_seconds=settings.data_key_refresh_seconds,
    )


def read_vault_token(settings: Settings) -> SecretStr | None:
    """The Vault token from BASTION_VAULT_TOKEN or the file BASTION_VAULT_TOKEN_FILE names.

    The file is read on every call, so a token renewed by an agent (Vault Agent writes
    a sink file) is picked up by the next provider built. Errors name the setting only.
    """
    if settings.vault_token is not None:
        return settings.vault_token
    if settings.vault_token_file is None:
        return None
    if not settings.vault_token_file.is_file():
        raise ValueError(f"BASTION_VAULT_TOKEN_FILE={settings.vault_token_file}: no such file")
    return SecretStr(settings.vault_token_file.read_text().strip())
