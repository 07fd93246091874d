"""Splitting a document's text into chunks for scanning, embedding and retrieval.

:func:`chunk_text` cuts on paragraph boundaries (blank lines) first, then on sentence
ends, and only then inside a sentence (at a space when there is one). Pieces are
packed greedily up to ``target`` characters; each chunk after the first begins with
the last ``overlap`` characters or so of the one before (from a word boundary), so
that a fact split across the cut is still whole in one chunk. A chunk is therefore
at most ``target + overlap + 1`` characters long. The result depends on the text
alone: the same text always gives the same chunks.

Texts over :data:`MAX_CHARS` characters, and texts with nothing but white space, are
refused with :class:`~bastion.documents.errors.DocumentError` (which never quotes the
text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bastion.documents.errors import DocumentError

__all__ = ["MAX_CHARS", "OVERLAP", "TARGET", "chunk_text"]

MAX_CHARS = 2_000_000
TARGET = 800
OVERLAP = 120

_PARAGRAPHS = re.compile(r"\n[ \t\f\v]*\n\s*")
# A sentence ends at . ! ? (or their CJK forms), possibly followed by closing quotes or
# brackets, then white space; the CJK full stops need no space after them.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|(?<=[。！？])\s*")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    new_paragraph: bool


def chunk_text(text: str, *, target: int = TARGET, overlap: int = OVERLAP) -> list[str]:
    """The chunks of ``text`` (see the module docstring); DocumentError if unusable."""
    if target < 16 or not 0 <= overlap < target:
        raise ValueError("chunking needs target >= 16 and 0 <= overlap < target")
    if len(text) > MAX_CHARS:
        raise DocumentError(
            f"a document is at most {MAX_CHARS} characters (this one has {len(text)}); "
            "split it into several documents"
        )
    pieces = _pieces(text.replace("\r\n", "\n").replace("\r", "\n"), target)
    if not pieces:
        raise DocumentError("the document has no text")
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        separator = "\n\n" if piece.new_paragraph else " "
        if current and len(current) + len(separator) + len(piece.text) > target:
            chunks.append(current)
            tail = _tail(current, overlap)
            current = f"{tail} {piece.text}" if tail else piece.text
        else:
            current = f"{current}{separator}{piece.text}" if current else piece.text
    chunks.append(current)
    return chunks


def _pieces(text: str, target: int) -> list[_Piece]:
    """Paragraphs, or their sentences, or slices of a sentence: each at most ``target``."""
    pieces: list[_Piece] = []
    for paragraph in _PARAGRAPHS.split(text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        first = True
        parts = [paragraph] if len(paragraph) <= target else _SENTENCE_END.split(paragraph)
        for part in parts:
            for piece in _slices(part.strip(), target):
                pieces.append(_Piece(piece, first))
                first = False
    return pieces


def _slices(sentence: str, target: int) -> list[str]:
    """A sentence cut into parts of at most ``target`` characters, at spaces if any."""
    out: list[str] = []
    rest = sentence
    while len(rest) > target:
        cut = rest.rfind(" ", target // 2, target + 1)
        if cut <= 0:
            cut = target
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        out.append(rest)
    return out


def _tail(chunk: str, overlap: int) -> str:
    """About the last ``overlap`` characters of ``chunk``, starting at a word."""
    if overlap == 0:
        return ""
    tail = chunk[-overlap:]
    if len(chunk) > overlap and not chunk[-overlap - 1].isspace():
        space = _SPACES.search(tail)
        # No word boundary inside the tail: take none rather than half a word.
        tail = tail[space.end() :] if space is not None else ""
    return _SPACES.sub(" ", tail).strip()
