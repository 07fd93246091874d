"""Upstream provider keys kept as sealed secrets, opened once when the gateway starts."""

from __future__ import annotations

from bastion.secrets.store import SecretError, SecretStore
from bastion.settings import ModelConfig

__all__ = ["open_model_keys"]


def open_model_keys(models: list[ModelConfig], store: SecretStore | None) -> list[ModelConfig]:
    """``models`` with each ``api_key_secret`` opened; fails closed, naming what is wrong.

    A model that names a secret must get it: a missing secret, a secret that does not
    open, or no key-encryption key at all stops the gateway from starting, rather than
    sending requests upstream without credentials.
    """
    opened: list[ModelConfig] = []
    for model in models:
        if not model.api_key_secret:
            opened.append(model)
            continue
        if store is None:
            raise SecretError(
                f"model {model.name}: api_key_secret needs a key-encryption key "
                "(BASTION_KEK_FILE) to open sealed secrets"
            )
        value = store.get(model.api_key_secret)
        if value is None:
            raise SecretError(
                f"model {model.name}: no secret named {model.api_key_secret!r}; "
                f"store it with `bastion secrets set {model.api_key_secret}`"
            )
        opened.append(model.with_sealed_key(value))
    return opened
