"""The encrypted backup container: an authenticated header, then AES-256-GCM chunks.

Layout (format version 1)::

    magic     b"BSTNBKUP"                     8 bytes
    version   unsigned 16-bit, big-endian     1
    length    unsigned 32-bit, big-endian     of the header text that follows
    header    JSON, keys sorted, UTF-8: archive_id, created_at, revision, kek_id,
              wrapped_key (base64), chunk_size
    chunk*    unsigned 32-bit length || sealed blob (see ``bastion.crypto.aead``)

Each archive has its own random 32-byte key, stored only wrapped by the KEK provider
with the context ``backup/<archive_id>``. Chunk ``i`` holds at most ``chunk_size``
bytes of the body and is sealed with associated data (``archive_id``, the SHA-256 of
every byte before the first chunk, ``i``, ``final`` or ``more``). The writer emits
exactly one ``final`` chunk, last, possibly empty. A reader treats a chunk as final
only when the file ends right after it. Changing any header byte, or reordering,
dropping, truncating or appending chunks, makes some chunk fail to open. Opening an
archive authenticates the header by opening chunk 0 before returning it.

Errors::

    ArchiveError              base; messages carry no content and no key material
     +- NotAnArchive          wrong magic: not a Bastion backup at all
     +- UnsupportedArchive    a format version this Bastion does not read
     +- ArchiveDamaged        anything else: one message for every failure, so it
                              says nothing about where or why the archive fails
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

import orjson

from bastion.crypto import DecryptionError, KeyProvider, UnwrapError, associated_data
from bastion.crypto import open_sealed as _open
from bastion.crypto import seal as _seal

__all__ = [
    "CHUNK_SIZE",
    "FORMAT_VERSION",
    "MAGIC",
    "ArchiveDamaged",
    "ArchiveError",
    "ArchiveHeader",
    "ArchiveReader",
    "ArchiveWriter",
    "NotAnArchive",
    "UnsupportedArchive",
    "open_archive",
]

MAGIC = b"BSTNBKUP"
FORMAT_VERSION = 1
CHUNK_SIZE = 1 << 20
MIN_CHUNK_SIZE = 256
MAX_CHUNK_SIZE = 16 << 20
_PREFIX = struct.Struct(">8sHI")
_LENGTH = struct.Struct(">I")
_MAX_HEADER = 64 << 10
_SEAL_OVERHEAD = 1 + 12 + 16


class ArchiveError(Exception):
    """A backup archive could not be read."""


class NotAnArchive(ArchiveError):
    def __init__(self) -> None:
        super().__init__("not a Bastion backup archive")


class UnsupportedArchive(ArchiveError):
    def __init__(self, version: int) -> None:
        super().__init__(
            f"archive format version {version} is not supported; this Bastion reads "
            f"version {FORMAT_VERSION}"
        )


class ArchiveDamaged(ArchiveError):
    """Deliberately the same for a flipped byte, a missing chunk and a wrong KEK.

    ``kek_id`` is the (public, unauthenticated) KEK id the header names, if it could
    be read, so a caller can tell an operator which KEK the archive expects.
    """

    def __init__(self, kek_id: str | None = None) -> None:
        super().__init__("the archive is damaged or was made under another key-encryption key")
        self.kek_id = kek_id


@dataclass(frozen=True, slots=True)
class ArchiveHeader:
    archive_id: str
    created_at: datetime
    revision: str
    kek_id: str
    wrapped_key: bytes = field(repr=False)
    chunk_size: int = CHUNK_SIZE

    def encode(self) -> bytes:
        """Every byte before the first chunk."""
        text = orjson.dumps(
            {
                "archive_id": self.archive_id,
                "chunk_size": self.chunk_size,
                "created_at": self.created_at.astimezone(UTC).isoformat(),
                "kek_id": self.kek_id,
                "revision": self.revision,
                "wrapped_key": base64.b64encode(self.wrapped_key).decode(),
            },
            option=orjson.OPT_SORT_KEYS,
        )
        return _PREFIX.pack(MAGIC, FORMAT_VERSION, len(text)) + text

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the encoded header: every chunk is bound to it."""
        return hashlib.sha256(self.encode()).hexdigest()

    @property
    def fingerprint(self) -> str:
        """A short public name for this archive's key and header (no key material)."""
        return self.digest[:16]

    @property
    def key_context(self) -> str:
        return f"backup/{self.archive_id}"


def _chunk_aad(header_digest: str, archive_id: str, index: int, final: bool) -> bytes:
    return associated_data(
        "bastion.backup.v1", archive_id, header_digest, str(index), "final" if final else "more"
    )


class ArchiveWriter:
    """Seals a byte stream into ``out``; call :meth:`close` to write the final chunk."""

    def __init__(
        self,
        out: BinaryIO,
        provider: KeyProvider,
        *,
        revision: str,
        now: datetime,
        random: Callable[[int], bytes] = os.urandom,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE} bytes")
        self._out = out
        self._random = random
        self._key = random(32)
        archive_id = str(uuid.UUID(bytes=random(16), version=4))
        context = f"backup/{archive_id}"
        self.header = ArchiveHeader(
            archive_id=archive_id,
            created_at=now.astimezone(UTC),
            revision=revision,
            kek_id=provider.key_id,
            wrapped_key=provider.wrap(self._key, context),
            chunk_size=chunk_size,
        )
        encoded = self.header.encode()
        self._digest = hashlib.sha256(encoded).hexdigest()
        self._pending = bytearray()
        self._index = 0
        self._closed = False
        self.bytes_written = 0
        self._emit_raw(encoded)

    def __repr__(self) -> str:
        return f"ArchiveWriter(archive_id={self.header.archive_id!r}, chunks={self._index})"

    def write(self, data: bytes) -> None:
        if self._closed:
            raise ValueError("the archive is closed")
        self._pending += data
        size = self.header.chunk_size
        # Strictly more than a chunk pending: this one is certainly not the last.
        while len(self._pending) > size:
            self._emit_chunk(bytes(self._pending[:size]), final=False)
            del self._pending[:size]

    def close(self) -> None:
        """Write the final chunk (possibly empty). Idempotent."""
        if self._closed:
            return
        self._emit_chunk(bytes(self._pending), final=True)
        self._pending.clear()
        self._closed = True

    def _emit_chunk(self, plaintext: bytes, *, final: bool) -> None:
        aad = _chunk_aad(self._digest, self.header.archive_id, self._index, final)
        blob = _seal(self._key, plaintext, aad, random=self._random)
        self._emit_raw(_LENGTH.pack(len(blob)) + blob)
        self._index += 1

    def _emit_raw(self, data: bytes) -> None:
        self._out.write(data)
        self.bytes_written += len(data)


class ArchiveReader:
    """The authenticated header and the body of an archive, chunk by chunk."""

    def __init__(
        self, source: _Source, header: ArchiveHeader, key: bytes, first: bytes, first_final: bool
    ) -> None:
        self._source = source
        self.header = header
        self._key = key
        self._first: bytes | None = first
        self._first_final = first_final
        self._digest = header.digest

    def __repr__(self) -> str:
        return f"ArchiveReader(archive_id={self.header.archive_id!r})"

    def chunks(self) -> Iterator[bytes]:
        """The body's plaintext chunks in order; :class:`ArchiveDamaged` on any fault.

        Only the end of the iteration proves the archive complete: a consumer must not
        act irreversibly on the data before the iterator is exhausted.
        """
        if self._first is None:
            raise ValueError("an archive's body can be read once")
        first, self._first = self._first, None
        yield first
        final, index = self._first_final, 0
        while not final:
            index += 1
            blob = self._source.blob(self.header)
            final = self._source.at_end()
            yield _open_chunk(self._key, blob, self._digest, self.header, index, final)


def open_archive(stream: BinaryIO, provider: KeyProvider) -> ArchiveReader:
    """Read and authenticate the header (by opening chunk 0) of the archive in ``stream``."""
    source = _Source(stream)
    prefix = source.read(_PREFIX.size)
    if len(prefix) < len(MAGIC) or prefix[: len(MAGIC)] != MAGIC:
        raise NotAnArchive()
    if len(prefix) < _PREFIX.size:
        raise ArchiveDamaged()
    _magic, version, length = _PREFIX.unpack(prefix)
    if version != FORMAT_VERSION:
        raise UnsupportedArchive(version)
    if length > _MAX_HEADER:
        raise ArchiveDamaged()
    text = source.read(length)
    header = _parse_header(text, length)
    if header.encode() != prefix + text:  # not in canonical form: refuse, do not guess
        raise ArchiveDamaged()
    try:
        key = provider.unwrap(header.wrapped_key, header.key_context)
    except UnwrapError:
        raise ArchiveDamaged(header.kek_id) from None
    blob = source.blob(header)
    final = source.at_end()
    first = _open_chunk(key, blob, header.digest, header, 0, final)
    return ArchiveReader(source, header, key, first, final)


def _parse_header(text: bytes, length: int) -> ArchiveHeader:
    if len(text) != length:
        raise ArchiveDamaged()
    try:
        fields = orjson.loads(text)
        header = ArchiveHeader(
            archive_id=_text(fields["archive_id"]),
            created_at=datetime.fromisoformat(_text(fields["created_at"])),
            revision=_text(fields["revision"]),
            kek_id=_text(fields["kek_id"]),
            wrapped_key=base64.b64decode(_text(fields["wrapped_key"]), validate=True),
            chunk_size=int(fields["chunk_size"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error):
        raise ArchiveDamaged() from None
    if header.created_at.tzinfo is None or not (
        MIN_CHUNK_SIZE <= header.chunk_size <= MAX_CHUNK_SIZE
    ):
        raise ArchiveDamaged()
    return header


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("a header field is not text")
    return value


class _Source:
    """Exact reads with one byte of look-ahead, so pipes work as well as files."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._ahead = b""

    def read(self, n: int) -> bytes:
        """``n`` bytes, or fewer at end of file."""
        data, self._ahead = self._ahead, b""
        while len(data) < n:
            more = self._stream.read(n - len(data))
            if not more:
                break
            data += more
        return data

    def at_end(self) -> bool:
        if not self._ahead:
            self._ahead = self._stream.read(1)
        return self._ahead == b""

    def blob(self, header: ArchiveHeader) -> bytes:
        raw = self.read(_LENGTH.size)
        if len(raw) != _LENGTH.size:
            raise ArchiveDamaged()
        (length,) = _LENGTH.unpack(raw)
        if length > header.chunk_size + _SEAL_OVERHEAD:
            raise ArchiveDamaged()
        blob = self.read(length)
        if len(blob) != length:
            raise ArchiveDamaged()
        return blob


def _open_chunk(
    key: bytes, blob: bytes, digest: str, header: ArchiveHeader, index: int, final: bool
) -> bytes:
    try:
        return _open(key, blob, _chunk_aad(digest, header.archive_id, index, final))
    except DecryptionError:
        raise ArchiveDamaged() from None
