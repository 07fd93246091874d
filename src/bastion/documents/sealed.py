"""A document chunk at rest: its text and, when an embedder ran, its vector, sealed
together under the tenant's ``app`` data key bound to the chunk id (table
``document_chunks``), so key rotation and backups cover them like every sealed column.

The plaintext is ``>BI`` (format version, text length in bytes), the UTF-8 text, then
the vector's bytes (none when the chunk was not embedded; the row's ``embedder``
column names the model that made it, ``""`` for none). Used by the store at upload
and by review when a quarantined document is released (:mod:`bastion.documents.review`).
"""

from __future__ import annotations

import logging
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from bastion.crypto import DecryptionError, Keyring
from bastion.documents.embed import Embedder

__all__ = ["ChunkSealer", "SealedChunk"]

_TABLE = "document_chunks"
_BLOB_VERSION = 1
_HEADER = struct.Struct(">BI")  # version, text length in bytes; then text, then vector

log = logging.getLogger("bastion.documents")


@dataclass(frozen=True, slots=True)
class SealedChunk:
    """One chunk ready to store: its id, position, the embedder that made its vector
    (``""``: none) and the sealed blob."""

    chunk_id: str
    ord: int
    embedder: str
    blob: bytes = field(repr=False)


class ChunkSealer:
    """Seals and opens chunks for one keyring; embeds with ``embedder`` (None: never)."""

    def __init__(self, keyring: Keyring, embedder: Embedder | None) -> None:
        self._keyring = keyring
        self.embedder = embedder

    def __repr__(self) -> str:
        name = self.embedder.name if self.embedder is not None else None
        return f"ChunkSealer(embedder={name!r})"

    def embed(self, texts: Sequence[str]) -> tuple[Sequence[bytes], str]:
        """The vectors of ``texts`` and the embedder's name; no vectors (``b""`` each)
        and ``""`` when there is no embedder or it fails (retrieval of these chunks
        then stays lexical; the failure is logged by type, never with text)."""
        if self.embedder is None or not texts:
            return [b""] * len(texts), ""
        try:
            return self.embedder.embed(texts), self.embedder.name
        except Exception as exc:
            log.error("embedding failed; lexical only error=%s", type(exc).__name__)
            return [b""] * len(texts), ""

    def seal_new(self, tenant_id: str, texts: Sequence[str], embed: bool) -> list[SealedChunk]:
        """New chunks (fresh ids, in order) for ``texts``, embedded if ``embed``."""
        vectors, name = self.embed(texts) if embed else ([b""] * len(texts), "")
        out = []
        for ord_, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
            chunk_id = str(uuid.uuid4())
            out.append(
                SealedChunk(chunk_id, ord_, name, self.seal(tenant_id, chunk_id, text, vector))
            )
        return out

    def seal(self, tenant_id: str, chunk_id: str, text: str, vector: bytes) -> bytes:
        """The sealed blob of one chunk (``vector``: ``b""`` for none)."""
        encoded = text.encode("utf-8")
        plain = _HEADER.pack(_BLOB_VERSION, len(encoded)) + encoded + vector
        return self._keyring.encrypt(tenant_id, "app", _TABLE, chunk_id, plain)

    def open(self, tenant_id: str, chunk_id: str, blob: bytes) -> tuple[str, bytes] | None:
        """A chunk's text and vector (``b""`` when none); None when it does not open."""
        try:
            plain = self._keyring.decrypt(tenant_id, "app", _TABLE, chunk_id, blob)
            version, size = _HEADER.unpack_from(plain)
            if version != _BLOB_VERSION or _HEADER.size + size > len(plain):
                return None
            end = _HEADER.size + size
            return plain[_HEADER.size : end].decode("utf-8"), plain[end:]
        except (DecryptionError, struct.error, UnicodeDecodeError):
            return None
