"""``system_prompt_leak``: a response that repeats a long verbatim run of the prompt.

A hijacked model can strip the canary and still recite its instructions. This
scanner reads ``context.secrets["system_prompt"]`` and blocks (``system_prompt_leak``)
when the output contains a run of at least ``min_words`` (default 8) consecutive
words of it holding at least ``min_chars`` (default 30) word characters. Words are
``\\w+`` runs compared case-insensitively, so whitespace and punctuation do not
matter; the character floor keeps eight short common words ("it is a ... of the")
from counting. One finding per maximal run.

Encodings do not hide a run: percent-escapes (``%20``), HTML entities (``&nbsp;``)
and backslash escapes (``\\n``) count as spaces; compatibility forms (full-width
letters, ligatures) are folded (NFKC); and when nothing is found in clear, the
reversed text, base64 and hex runs and the percent-decoded text are searched too,
each reported as one ``system_prompt_encoded`` finding over what was decoded.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote_plus

from bastion.scanners._decode import decoded_runs
from bastion.scanners._options import check_keys, int_option
from bastion.scanners.base import Decision, Finding, ScanContext, ScanResult

__all__ = ["SystemPromptLeakScanner"]

_WORD_CHARS = string.ascii_letters + string.digits + "_"
# Escapes that stand for punctuation or spaces: blanked out, keeping every offset.
_ESCAPES = re.compile(
    r"%[0-9A-Fa-f]{2}|&#?[0-9A-Za-z]{1,10};|\\(?:u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|[nrtbf])"
)


def _blank_escapes(text: str) -> str:
    if "%" not in text and "&" not in text and "\\" not in text:
        return text
    return _ESCAPES.sub(lambda m: " " * len(m.group()), text)


def _nfkc(text: str) -> tuple[str, list[int]]:
    """``text`` folded per character, and the original offset of each folded character."""
    out: list[str] = []
    where: list[int] = []
    for i, char in enumerate(text):
        folded = unicodedata.normalize("NFKC", char) if not char.isascii() else char
        out.append(folded)
        where.extend([i] * len(folded))
    return "".join(out), where


def _ascii_table() -> dict[int, int]:
    """ASCII fast path: lower-case letters, turn every non-word character into a space."""
    table = {c: ord(" ") for c in range(128) if chr(c) not in _WORD_CHARS}
    table.update({ord(c): ord(c.lower()) for c in string.ascii_uppercase})
    return table


class SystemPromptLeakScanner:
    """Blocks output containing a long verbatim run of the system prompt."""

    name = "system_prompt_leak"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        opts = options or {}
        check_keys(self.name, opts, ("min_chars", "min_words"))
        self.min_words = int_option(self.name, opts, "min_words", 8, minimum=3)
        self.min_chars = int_option(self.name, opts, "min_chars", 30, minimum=0)
        self._word = re.compile(r"\w+")
        self._table = _ascii_table()

    def __repr__(self) -> str:
        return f"SystemPromptLeakScanner(min_words={self.min_words}, min_chars={self.min_chars})"

    def scan(self, text: str, context: ScanContext) -> ScanResult:
        prompt = context.secrets.get("system_prompt")
        if not prompt:
            return ScanResult.allow(self.name)
        findings = self.find(text, prompt)
        if not findings:
            return ScanResult.allow(self.name)
        return ScanResult(self.name, Decision.BLOCK, 1.0, "system_prompt_leak", findings)

    def _split(self, text: str) -> list[str]:
        if text.isascii():
            return text.translate(self._table).split()
        return [m.group().lower() for m in self._word.finditer(text)]

    def find(self, text: str, prompt: str) -> tuple[Finding, ...]:
        """Maximal spans of ``text`` that repeat a long run of ``prompt``, clear or encoded."""
        words = self._split(prompt)
        clear = _blank_escapes(text)
        where: list[int] | None = None
        if not clear.isascii():
            clear, where = _nfkc(clear)
        runs = self._runs(self._split(clear), words)
        if runs:
            matches = list(self._word.finditer(clear))
            spans = [(matches[first].start(), matches[last].end()) for first, last in runs]
            if where is not None:
                spans = [(where[s], where[e - 1] + 1) for s, e in spans]
            return tuple(Finding("system_prompt", s, e) for s, e in spans)
        for start, end, view in self._encoded_views(text):
            if self._runs(self._split(_blank_escapes(view)), words):
                return (Finding("system_prompt_encoded", start, end),)
        return ()

    def _encoded_views(self, text: str) -> Iterator[tuple[int, int, str]]:
        """``(start, end, decoded)``: the text reversed, decoded runs, percent-decoded."""
        yield 0, len(text), text[::-1]
        yield from decoded_runs(text, min_chars=self.min_chars)
        if "%" in text:
            yield 0, len(text), unquote_plus(text)

    def _runs(self, words: list[str], prompt: list[str]) -> list[tuple[int, int]]:
        """Word-index ranges ``(first, last)`` of ``words`` shared with ``prompt``."""
        n = self.min_words
        if len(prompt) < n or len(words) < n:
            return []
        # Prefilter: any run of n prompt words contains a whole aligned block of
        # k = ceil(n/2) words starting at a multiple of k; look for those blocks first.
        k = (n + 1) // 2
        joined = " " + " ".join(words) + " "
        blocks = (" " + " ".join(prompt[p : p + k]) + " " for p in range(0, len(prompt) - k + 1, k))
        if not any(block in joined for block in blocks):
            return []
        index: dict[str, list[int]] = {}
        for pos, word in enumerate(prompt):
            index.setdefault(word, []).append(pos)
        runs: list[tuple[int, int]] = []
        i = 0
        while i <= len(words) - n:
            longest = 0
            for pos in index.get(words[i], ()):
                length = 0
                while (
                    i + length < len(words)
                    and pos + length < len(prompt)
                    and words[i + length] == prompt[pos + length]
                ):
                    length += 1
                if length >= n and sum(map(len, words[i : i + length])) >= self.min_chars:
                    longest = max(longest, length)
            if not longest:
                i += 1
                continue
            last = i + longest - 1
            if runs and i <= runs[-1][1]:
                runs[-1] = (runs[-1][0], max(runs[-1][1], last))
            else:
                runs.append((i, last))
            i = last - n + 2  # later starts inside this run are already covered
        return runs
