"""Tenants, users, API keys and the principal a request acts as."""

from bastion.identity.cache import AuthCache
from bastion.identity.keys import generate_key, hash_key, parse_key
from bastion.identity.service import IdentityError, IdentityService, IssuedKey, KeyInfo, Principal

__all__ = [
    "AuthCache",
    "IdentityError",
    "IdentityService",
    "IssuedKey",
    "KeyInfo",
    "Principal",
    "generate_key",
    "hash_key",
    "parse_key",
]
