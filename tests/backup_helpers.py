"""Shared by the backup tests: a KEK on disk, and the archive's documented layout."""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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
