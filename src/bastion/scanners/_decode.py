"""Cheap decodings of model output, for scanners that look for a secret in disguise.

:func:`decoded_runs` finds runs that look like base64 (standard or URL-safe) or hex
and yields what each decodes to when that is mostly printable text, with the run's
span in the original text. A run cut at an arbitrary point (a stream window starts
mid-run) is decoded at every alignment.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

__all__ = ["decoded_runs"]

_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}[ :]?){12,}")
_MAX_RUNS = 64  # a response of endless short runs costs bounded work per scan


def _printable(text: str) -> bool:
    if not text:
        return False
    good = sum(1 for c in text if c.isprintable() or c in "\n\t")
    return good >= 0.9 * len(text)


def decoded_runs(text: str, *, min_chars: int = 12) -> Iterator[tuple[int, int, str]]:
    """``(start, end, decoded)`` for base64 and hex runs decoding to ``min_chars``+ of text."""
    for count, match in enumerate(_HEX_RUN.finditer(text)):
        if count >= _MAX_RUNS:
            break
        digits = re.sub(r"[ :]", "", match.group())
        for shift in (0, 1):
            usable = digits[shift : shift + (len(digits) - shift) // 2 * 2]
            decoded = bytes.fromhex(usable).decode("utf-8", "ignore")
            if len(decoded) >= min_chars and _printable(decoded):
                yield match.start(), match.end(), decoded
    for count, match in enumerate(_B64_RUN.finditer(text)):
        if count >= _MAX_RUNS:
            break
        run = match.group().rstrip("=").replace("-", "+").replace("_", "/")
        for shift in range(4):
            body = run[shift:]
            body = body[: len(body) // 4 * 4]
            if len(body) < 16:
                continue
            try:
                decoded = base64.b64decode(body, validate=True).decode("utf-8", "ignore")
            except (binascii.Error, ValueError):
                continue
            if len(decoded) >= min_chars and _printable(decoded):
                yield match.start(), match.end(), decoded
