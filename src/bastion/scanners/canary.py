"""``canary``: a per-request random token planted in the system prompt.

If the token comes back in a response, the model is repeating its instructions: the
response is blocked (``canary_leak``). The scanner looks for the token's 24 hex
digits written plainly, in any case, spelled out with up to three separator, space
or zero-width characters between characters (``b s t - c - 3 f ...``), reversed,
hex-encoded, or base64-encoded (standard or URL-safe alphabet, any alignment).

Part of the canary is a leak too: ``partial_chars`` (default 12; 0 turns it off)
consecutive characters of it, in any disguise above but reversal (the reversed
canary is caught whole): that many of its random digits, or the ``bst-c-`` prefix
followed by enough leading digits to make that many characters (``bst-c-0f3a9b``).
Base64 and hex runs are also decoded and searched the same way (``canary_partial``).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from bastion.scanners._decode import decoded_runs
from bastion.scanners._options import check_keys, int_option
from bastion.scanners.base import Decision, Finding, ScanContext, ScanResult

__all__ = ["CANARY_PREFIX", "CanaryScanner", "generate_canary"]

CANARY_PREFIX = "bst-c-"
_HEX_BYTES = 12
_HEX_CHARS = 2 * _HEX_BYTES
# Separators a model may put between the characters it spells out: punctuation,
# whitespace and invisible characters, at most three between two characters.
_SEP = r"[\s\-_.,:;|/\\'\"`*+()\[\]{}<>\u00ad\u200b-\u200f\u2060\ufeff]"
_GAP = 3
# Longest span this scanner reports: the hex encoding of the whole canary (60 hex
# digits) spelled out with the widest gaps.
_MAX_MATCH = 2 * (len(CANARY_PREFIX) + _HEX_CHARS) * (_GAP + 1)


def generate_canary(token_hex: Callable[[int], str] = secrets.token_hex) -> str:
    """A fresh canary such as ``bst-c-0f3a...`` (24 hex digits from ``token_hex``)."""
    digits = token_hex(_HEX_BYTES).lower()
    if len(digits) != _HEX_CHARS or any(c not in "0123456789abcdef" for c in digits):
        raise ValueError("token_hex must return 24 hexadecimal digits for 12 bytes")
    return CANARY_PREFIX + digits


def _b64_needles(secret: bytes) -> set[str]:
    """Substrings present in any base64 text that encodes ``secret`` at any offset."""
    needles: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode()
        # Drop characters that mix in neighbouring bytes at both ends.
        lead = (offset * 4 + 2) // 3
        core = encoded[lead:]
        tail = (len(secret) + offset) % 3
        core = core[: len(core) - (4 if tail else 0)] if tail else core
        if len(core) >= 16:
            needles.add(core)
            needles.add(core.replace("+", "-").replace("/", "_"))
    return needles


class CanaryScanner:
    """Blocks output that contains ``context.secrets["canary"]`` in any known disguise."""

    name = "canary"
    max_match_chars = _MAX_MATCH

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        opts = options or {}
        check_keys(self.name, opts, ("partial_chars",))
        self.partial_chars = int_option(self.name, opts, "partial_chars", 12, minimum=0)
        if 0 < self.partial_chars < 10 or self.partial_chars > _HEX_CHARS:
            raise ValueError(
                f"{self.name}: option 'partial_chars' must be 0 (off) or 10 to {_HEX_CHARS}"
            )
        hexd = "[0-9a-fA-F]"
        self._hex_runs = re.compile(rf"{hexd}(?:{_SEP}{{0,{_GAP}}}{hexd}){{{_HEX_CHARS - 1},}}")
        # Shortest run a partial leak can be: the digits after a spelled-out prefix.
        shortest = max(1, self.partial_chars - len(CANARY_PREFIX))
        self._short_runs = re.compile(rf"{hexd}(?:{_SEP}{{0,{_GAP}}}{hexd}){{{shortest - 1},}}")
        self._prefix = re.compile(
            rf"[bB]{_SEP}{{0,{_GAP}}}[sS]{_SEP}{{0,{_GAP}}}[tT]{_SEP}{{0,{_GAP}}}"
            rf"[cC]{_SEP}{{0,{_GAP}}}\Z"
        )
        self._hex_char = re.compile(hexd)

    def __repr__(self) -> str:
        return f"CanaryScanner(partial_chars={self.partial_chars})"

    def scan(self, text: str, context: ScanContext) -> ScanResult:
        canary = context.secrets.get("canary")
        if not canary:
            return ScanResult.allow(self.name)
        findings = self.find(text, canary)
        if not findings:
            return ScanResult.allow(self.name)
        return ScanResult(self.name, Decision.BLOCK, 1.0, "canary_leak", findings)

    def find(self, text: str, canary: str) -> tuple[Finding, ...]:
        """Spans of ``text`` that disclose ``canary``."""
        canary = canary.lower()
        digits = canary.removeprefix(CANARY_PREFIX)
        findings = [*self._hex_findings(text, canary, digits), *_b64_findings(text, canary)]
        if self.partial_chars:
            partial = self._partial_findings(text, digits)
            findings.extend(
                f for f in partial if not any(g.start <= f.start < g.end for g in findings)
            )
        findings.sort(key=lambda f: (f.start, f.end))
        return tuple(findings)

    def _partial_findings(self, text: str, digits: str) -> list[Finding]:
        """Runs holding ``partial_chars`` of the canary, plainly or in a decoded run."""
        found = self._partial_in(text, digits)
        for start, end, decoded in decoded_runs(text, min_chars=self.partial_chars - 4):
            if self._partial_in(decoded, digits):
                found.append(Finding("canary_partial", start, end))
        return found

    def _partial_in(self, text: str, digits: str) -> list[Finding]:
        size = self.partial_chars
        lead = digits[: size - len(CANARY_PREFIX)]  # digits that follow a written prefix
        grams = {digits[i : i + size] for i in range(len(digits) - size + 1)}
        found: list[Finding] = []
        for run in self._short_runs.finditer(text):
            positions = [m.start() for m in self._hex_char.finditer(text, run.start(), run.end())]
            compact = "".join(text[i] for i in positions).lower()
            for at in range(len(compact)):
                if compact[at : at + size] in grams:
                    found.append(
                        Finding("canary_partial", positions[at], positions[at + size - 1] + 1)
                    )
                    break
                if compact.startswith(lead, at):
                    start = self._extend_prefix(text, positions[at])
                    if start < positions[at]:
                        end = positions[at + len(lead) - 1] + 1
                        found.append(Finding("canary_partial", start, end))
                        break
        return found

    def _hex_findings(self, text: str, canary: str, digits: str) -> list[Finding]:
        """Hex digits written plainly, spelled out, reversed or hex-encoded."""
        targets = {
            digits: "canary",
            digits[::-1]: "canary_reversed",
            canary.encode().hex(): "canary_hex",
            digits.encode().hex(): "canary_hex",
        }
        # Prefilter: every disguise keeps the target's decimal digits, so a text with
        # fewer of some digit than every target needs cannot contain one.
        have = {d: text.count(d) for d in "0123456789"}
        if not any(all(t.count(d) <= n for d, n in have.items()) for t in targets):
            return []
        found: list[Finding] = []
        for run in self._hex_runs.finditer(text):
            positions = [m.start() for m in self._hex_char.finditer(text, run.start(), run.end())]
            compact = "".join(text[i] for i in positions).lower()
            for target, kind in targets.items():
                at = compact.find(target)
                while at >= 0:
                    start, end = positions[at], positions[at + len(target) - 1] + 1
                    if kind == "canary":
                        start = self._extend_prefix(text, start)
                    found.append(Finding(kind, start, end))
                    at = compact.find(target, at + 1)
        return found

    def _extend_prefix(self, text: str, start: int) -> int:
        """Include a ``bst-c-`` prefix (spelled out or not) just before the digits."""
        window_start = max(0, start - 4 * (_GAP + 1) - _GAP)
        match = self._prefix.search(text[window_start:start])
        return window_start + match.start() if match else start


def _b64_findings(text: str, canary: str) -> list[Finding]:
    found: list[Finding] = []
    for secret in {canary, canary.upper(), canary.removeprefix(CANARY_PREFIX)}:
        for needle in _b64_needles(secret.encode()):
            at = text.find(needle)
            while at >= 0:
                found.append(Finding("canary_base64", at, at + len(needle)))
                at = text.find(needle, at + 1)
    return found
