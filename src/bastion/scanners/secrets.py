"""``secrets``: provider API keys, tokens and private keys in prompts and responses.

Formats are listed in :mod:`bastion.scanners._secret_rules`. A format matches when
one of its literal needles occurs, its regex matches and its random part passes the
guard (enough distinct characters, enough character classes, no long repeated run, no
placeholder word). The action depends on the stage: ``input_action`` (default
``"block"``: the key must not reach a provider) and ``output_action`` (default
``"redact"``). Reason code ``secret_detected``; each finding's type names the format.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from bastion.scanners._options import check_keys, choice_option
from bastion.scanners._secret_rules import PEM_TAIL, SPECS, SecretSpec
from bastion.scanners.base import Decision, Finding, ScanContext, ScanResult, Stage

__all__ = ["SecretsScanner"]

_ACTIONS = {"block": Decision.BLOCK, "redact": Decision.REDACT}
_PLACEHOLDER_WORDS = ("example", "placeholder", "xxxx", "your", "redacted", "dummy", "sample")
_MAX_PEM_CHARS = 1 << 16


def _plausible(body: str, spec: SecretSpec, repeats: re.Pattern[str]) -> bool:
    """The random part of a real key: varied characters, no placeholder."""
    if len(set(body)) < spec.min_distinct:
        return False
    if spec.classes:
        classes = (
            any(c.islower() for c in body)
            + any(c.isupper() for c in body)
            + any(c.isdigit() for c in body)
        )
        if classes < spec.classes:
            return False
        lowered = body.lower()
        if any(word in lowered for word in _PLACEHOLDER_WORDS):
            return False
        if repeats.search(body) is not None:
            return False
    return True


def _word_before(char: str, extra: str) -> bool:
    return char.isalnum() or char in extra


def _b64_pem_is_private(body: str) -> bool:
    head = "LS0tLS1CRUdJTi" + body[:80]
    head = head[: len(head) - len(head) % 4]
    try:
        decoded = base64.b64decode(head, validate=True)
    except (binascii.Error, ValueError):
        return False
    return b"PRIVATE KEY" in decoded


class SecretsScanner:
    """Detects provider credentials; blocks on input and redacts on output by default."""

    name = "secrets"
    max_match_chars = 512
    """The longest text needed to recognise a secret (a stream guard holds back at
    least this much). Longer spans are recognised by their start: a JWT by its header
    and ``.eyJ``, a private key by its BEGIN line; the span then grows and, when
    redacting, is held back until it ends (see :class:`StreamGuard`)."""

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        opts = options or {}
        check_keys(self.name, opts, ("input_action", "output_action"))
        self.input_action = choice_option(self.name, opts, "input_action", "block", _ACTIONS)
        self.output_action = choice_option(self.name, opts, "output_action", "redact", _ACTIONS)
        self._rules = tuple((spec, re.compile(spec.pattern)) for spec in SPECS)
        self._pem_tail = re.compile(PEM_TAIL)
        self._repeats = re.compile(r"(.)\1{4}")

    def __repr__(self) -> str:
        return (
            f"SecretsScanner(input_action={self.input_action!r}, "
            f"output_action={self.output_action!r})"
        )

    def scan(self, text: str, context: ScanContext) -> ScanResult:
        findings = self.find(text)
        if not findings:
            return ScanResult.allow(self.name)
        action = self.input_action if context.stage is Stage.INPUT else self.output_action
        return ScanResult(
            scanner=self.name,
            decision=_ACTIONS[action],
            score=max(f.score for f in findings),
            reason="secret_detected",
            findings=findings,
        )

    def find(self, text: str) -> tuple[Finding, ...]:
        """All secret spans in ``text``, sorted by position."""
        found: list[Finding] = []
        for spec, pattern in self._rules:
            if spec.gate and spec.gate not in text:
                continue
            for needle in spec.needles:
                pos = text.find(needle)
                while pos >= 0:
                    if spec.left is None or pos == 0 or not _word_before(text[pos - 1], spec.left):
                        match = pattern.match(text, pos)
                        if match is not None:
                            finding = self._check(text, spec, match)
                            if finding is not None:
                                found.append(finding)
                    pos = text.find(needle, pos + 1)
        found.sort(key=lambda f: (f.start, f.end))
        return tuple(found)

    def _check(self, text: str, spec: SecretSpec, match: re.Match[str]) -> Finding | None:
        body = (match.group("body") if "body" in match.re.groupindex else match.group()) or ""
        if spec.kind == "private_key":
            if "body" in match.re.groupindex:
                if not _b64_pem_is_private(body):
                    return None
                return Finding(spec.kind, match.start(), match.end(), spec.score)
            tail = self._pem_tail.match(text, match.end(), match.end() + _MAX_PEM_CHARS)
            end = tail.end() if tail is not None else match.end()
            return Finding(spec.kind, match.start(), end, spec.score)
        if not _plausible(body, spec, self._repeats):
            return None
        start, end = match.span("body") if spec.body_span else match.span()
        return Finding(spec.kind, start, end, spec.score)
