"""API key format, generation and hashing.

A key looks like ``bst_<prefix>_<secret>``: ``prefix`` (12 lowercase base32 chars) is
public and indexes the key; ``secret`` is 256 bits from ``secrets``. Only the SHA-256
of the whole key is stored. Keys carry 256 bits of entropy, so a fast hash is the
right tool (no password stretching needed); comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["KEY_PATTERN", "ParsedKey", "generate_key", "hash_key", "parse_key", "verify_key"]

KEY_PATTERN = re.compile(r"bst_([a-z2-7]{12})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True, slots=True)
class ParsedKey:
    prefix: str
    full: str

    def __repr__(self) -> str:
        return f"ParsedKey(prefix={self.prefix!r}, full='***')"


def generate_key(token_bytes: Callable[[int], bytes] = secrets.token_bytes) -> ParsedKey:
    """A new random key; ``token_bytes`` is a parameter so tests can be exact."""
    prefix = base64.b32encode(token_bytes(10)).decode().lower()[:12]
    secret = base64.urlsafe_b64encode(token_bytes(32)).decode().rstrip("=")
    return ParsedKey(prefix=prefix, full=f"bst_{prefix}_{secret}")


def parse_key(raw: str) -> ParsedKey | None:
    """The key's parts, or None if ``raw`` is not shaped like a Bastion key."""
    match = KEY_PATTERN.fullmatch(raw)
    if match is None:
        return None
    return ParsedKey(prefix=match.group(1), full=raw)


def hash_key(full: str) -> str:
    return hashlib.sha256(full.encode()).hexdigest()


def verify_key(full: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(full), stored_hash)
