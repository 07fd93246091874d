"""Embedded payloads: find encoded text, decode it, and decode what that holds.

An instruction can reach a model in a form a matcher does not read but the model
does. :meth:`PayloadDecoder.payloads` finds, in order:

* ``base64``: runs of 16+ characters of the standard or URL-safe alphabet that decode
  to UTF-8 text (at least 90% printable and 60% letters or spaces);
* ``hex``: 16+ hex digits, ``\\x41`` escapes or space/colon-separated byte pairs,
  decoding to such text;
* ``url``: three or more ``%XX`` escapes (the whole text is unquoted);
* ``html``: three or more character references (the whole text is unescaped);
* ``rot13`` and ``reversed``: a sentence in which few common English words occur,
  whose rot13 or reversal holds at least twice as many (and at least two): a set
  lookup per word, no dictionary.

Each decoded text is searched again, up to ``max_depth`` levels (base64 of hex of a
URL-encoded string is three levels); a nested payload keeps the span of its outermost
encoding in the scanned text and lists every encoding on its way. Work is bounded: a
decoder never outputs more characters than it reads, and decoding stops after
``max_payloads`` payloads or ``max_total_chars`` decoded characters in one call.
Nothing is decompressed, so there is no decode bomb.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote

__all__ = ["Payload", "PayloadDecoder"]

_BASE64_RE = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX_RE = re.compile(
    r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){8,}(?![0-9A-Fa-f])"
    r"|(?:\\x[0-9A-Fa-f]{2}){4,}"
    r"|(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :]){5,}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])"
)
_HEX_ONLY_RE = re.compile(r"[0-9A-Fa-f]+")
# Necessary conditions for a match, tested in C on the text's UTF-8 bytes mapped to one
# letter per character class (a non-ASCII character becomes bytes >= 0x80, never a
# class letter): _BASE64_RE needs 16 base64 characters in a row; _HEX_RE 16 hex digits
# in a row (``[0-9A-Fa-f]{16}``), or three separators around two byte pairs (the spaced
# form, ``[ :]xx[ :]xx[ :]``), or a ``\x`` (a substring test).
_BASE64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"
_BASE64_CLASS = bytes(ord("b") if c in _BASE64_CHARS else ord(".") for c in range(256))
_BASE64_RUN = b"b" * 16
_HEX_CLASS = bytes(
    ord("x") if c in b"0123456789ABCDEFabcdef" else ord("s") if c in b" :" else ord(".")
    for c in range(256)
)
_HEX_RUN = b"x" * 16
_HEX_SPACED = b"sxxsxxs"
_HEX_STRIP_RE = re.compile(r"\\x|[ :]")
_PERCENT_RE = re.compile(r"%[0-9A-Fa-f]{2}")
_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z]{2,8});")
_SEGMENT_RE = re.compile(r"[^\n.!?]+")
_ALPHA_WORD_RE = re.compile(r"[A-Za-z]+")
# What a decoded text looks like when it is itself encoded (checked one level down).
_NESTED_RE = re.compile(r"[A-Za-z0-9+/=_%\\:\s-]+")
_MIN_ESCAPES = 3

# Frequent English words and the vocabulary of instructions: a decoded text that
# gains many of these is language, not noise.
_COMMON = frozenset(
    """
    a about above all also an and any are as at be been before but by can did do does
    don each earlier for forget from give has have how i if ignore in instead
    instructions into is it its just me more must my new no not now of on only or other
    our out over please previous print prior prompt reveal rules say secret should show
    so system tell than that the their them then there these they this to told tell up
    us was we were what when which who will with without word words you your
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_INVOLUTIONS = frozenset({"rot13", "reversed"})


@dataclass(frozen=True, slots=True)
class Payload:
    """A decoded text; ``start``/``end`` is its outermost encoding's span in the input."""

    encodings: tuple[str, ...]
    start: int
    end: int
    text: str = field(repr=False)

    @property
    def depth(self) -> int:
        return len(self.encodings)


@dataclass(slots=True)
class _Budget:
    payloads: int
    chars: int

    def take(self, size: int) -> bool:
        if self.payloads <= 0 or self.chars < size:
            return False
        self.payloads -= 1
        self.chars -= size
        return True


def _textual(data: bytes) -> str | None:
    """``data`` as text when it reads like language, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 4:
        return None
    printable = sum(c.isprintable() or c in "\n\t\r" for c in text)
    wordish = sum(c.isalpha() or c == " " for c in text)
    if printable < 0.9 * len(text):
        return None
    if wordish < 0.6 * len(text) and _NESTED_RE.fullmatch(text) is None:
        return None
    return text


def _from_base64(token: str) -> str | None:
    body = token.rstrip("=")
    if _HEX_ONLY_RE.fullmatch(body) is not None:
        return None  # a hex string or a hash: the hex decoder's case
    urlsafe = "-" in body or "_" in body
    if urlsafe and ("+" in body or "/" in body):
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        if urlsafe:
            data = base64.urlsafe_b64decode(padded)
        else:
            data = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _textual(data)


def _from_hex(token: str) -> str | None:
    digits = _HEX_STRIP_RE.sub("", token)
    if len(digits) % 2:
        return None
    try:
        return _textual(bytes.fromhex(digits))
    except ValueError:
        return None


def _common_words(text: str) -> tuple[int, int]:
    words = _ALPHA_WORD_RE.findall(text.lower())
    return sum(map(_COMMON.__contains__, words)), len(words)


def _reads_better(before: int, candidate: str) -> bool:
    after, _ = _common_words(candidate)
    return after >= 2 and after >= 2 * before + 1


class PayloadDecoder:
    """Finds and decodes embedded payloads within fixed limits (see the module docstring)."""

    def __init__(
        self, *, max_depth: int = 3, max_payloads: int = 32, max_total_chars: int = 65536
    ) -> None:
        if max_depth < 1 or max_payloads < 1 or max_total_chars < 1:
            raise ValueError("decoder limits must be >= 1")
        self.max_depth = max_depth
        self.max_payloads = max_payloads
        self.max_total_chars = max_total_chars

    def __repr__(self) -> str:
        return (
            f"PayloadDecoder(max_depth={self.max_depth}, max_payloads={self.max_payloads}, "
            f"max_total_chars={self.max_total_chars})"
        )

    def payloads(self, text: str) -> list[Payload]:
        """Every payload found in ``text``, outermost first, within the limits."""
        out: list[Payload] = []
        budget = _Budget(self.max_payloads, self.max_total_chars)
        self._walk(text, (), None, budget, out)
        return out

    def _walk(
        self,
        text: str,
        chain: tuple[str, ...],
        span: tuple[int, int] | None,
        budget: _Budget,
        out: list[Payload],
    ) -> None:
        for encoding, start, end, decoded in self._decode_once(text, chain):
            if not budget.take(len(decoded)):
                return
            outer = span if span is not None else (start, end)
            payload = Payload((*chain, encoding), outer[0], outer[1], decoded)
            out.append(payload)
            if payload.depth < self.max_depth:
                self._walk(decoded, payload.encodings, outer, budget, out)

    def _decode_once(
        self, text: str, chain: tuple[str, ...]
    ) -> Iterator[tuple[str, int, int, str]]:
        raw = text.encode("utf-8", "surrogatepass")
        if _BASE64_RUN in raw.translate(_BASE64_CLASS):
            for match in _BASE64_RE.finditer(text):
                decoded = _from_base64(match.group())
                if decoded is not None:
                    yield "base64", match.start(), match.end(), decoded
        hexed = raw.translate(_HEX_CLASS)
        if "\\x" in text or _HEX_RUN in hexed or _HEX_SPACED in hexed:
            for match in _HEX_RE.finditer(text):
                decoded = _from_hex(match.group())
                if decoded is not None:
                    yield "hex", match.start(), match.end(), decoded
        if "%" in text and len(_PERCENT_RE.findall(text, 0, 4096)) >= _MIN_ESCAPES:
            decoded = unquote(text)
            if decoded != text:
                yield "url", 0, len(text), decoded
        if "&" in text and len(_ENTITY_RE.findall(text, 0, 4096)) >= _MIN_ESCAPES:
            decoded = html.unescape(text)
            if decoded != text:
                yield "html", 0, len(text), decoded
        if _INVOLUTIONS.isdisjoint(chain):
            yield from _involutions(text)


def _involutions(text: str) -> Iterator[tuple[str, int, int, str]]:
    """Sentences that read better rot13-decoded or reversed."""
    lowered = text.lower()
    # Lowercasing maps each character to one or more; with the length unchanged, to one,
    # so a segment's words can be read from ``lowered`` at the segment's own span (only
    # a final sigma depends on context, and it is no ASCII letter).
    same_span = len(lowered) == len(text)
    find_words = _ALPHA_WORD_RE.findall
    for match in _SEGMENT_RE.finditer(text):
        start, end = match.span()
        if end - start < 12:
            continue
        words = find_words(lowered, start, end) if same_span else find_words(match.group().lower())
        total = len(words)
        if total < 3:
            continue  # too short to tell
        before = sum(map(_COMMON.__contains__, words))
        if before * 4 >= total:
            continue  # already reads as language
        segment = match.group()
        rotated = codecs.encode(segment, "rot13")
        if _reads_better(before, rotated):
            yield "rot13", start, end, rotated
            continue
        flipped = segment[::-1]
        if _reads_better(before, flipped):
            yield "reversed", start, end, flipped
