"""Credentials Bastion uses but never shows, sealed at rest (see ``store``)."""

from bastion.secrets.store import DEPLOYMENT, SecretError, SecretInfo, SecretStore

__all__ = ["DEPLOYMENT", "SecretError", "SecretInfo", "SecretStore"]
