"""Shared by the backup tests: a KEK on disk, and the archive's documented layout."""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bastion.crypto import LocalKeyProvider

NOW = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


@dataclass(frozen=True)
class Kek:
    key: bytes
    file: Path

    @property
    def provider(self) -> LocalKeyProvider:
        return LocalKeyProvider(self.key)


def make_kek(path: Path) -> Kek:
    key = os.urandom(32)
    path.write_text(base64.b64encode(key).decode() + "\n")
    return Kek(key, path)


def split(data: bytes) -> tuple[bytes, list[bytes]]:
    """(header, chunks with their length prefixes) of an archive, per the documented layout."""
    (length,) = struct.unpack(">I", data[10:14])
    pos = 14 + length
    header, chunks = data[:pos], []
    while pos < len(data):
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append(data[pos : pos + 4 + size])
        pos += 4 + size
    return header, chunks


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def flip_chunk(header: bytes, chunks: list[bytes]) -> bytes:
    """The archive with one byte flipped in the middle of its second chunk."""
    return header + chunks[0] + flip(chunks[1], len(chunks[1]) // 2) + b"".join(chunks[2:])


# -- PostgreSQL roles for the row-level-security backup test --------------------------
OWNER_ROLE = "bastion_backup_owner_test"
APP_LOGIN = "bastion_backup_app_test"

# Roles are cluster-wide and other test sessions may be creating them right now.
ROLES_SQL = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'bastion_app') THEN
        CREATE ROLE bastion_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'bastion_backup_owner_test') THEN
        CREATE ROLE bastion_backup_owner_test LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'bastion_backup_app_test') THEN
        CREATE ROLE bastion_backup_app_test LOGIN IN ROLE bastion_app;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$"""


def as_role(url: str, role: str) -> str:
    return make_url(url).set(username=role).render_as_string(hide_password=False)
