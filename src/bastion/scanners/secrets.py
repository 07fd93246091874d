"""``secrets``: provider API keys, tokens and private keys in prompts and responses.

Formats are listed in :mod:`bastion.scanners._secret_rules`. A format matches when
one of its literal needles occurs, its regex matches and its random part passes the
guard (enough distinct characters, enough character classes, no long repeated run, no
placeholder word). The action depends on the stage: ``input_action`` (default
``"block"``: the key must not reach a provider) and ``output_action`` (default
``"redact"``). Reason code ``secret_detected``; each finding's type names the format.

Formats without a prefix of their own (passwords in URLs and connection strings, keys
named by their provider, high-entropy values assigned to key/secret/token names) are
context rules, searched only when one of their lowercase needles occurs.

Cloud resource identifiers (ARNs, bucket URLs, OAuth client IDs, account ids...) are
not secrets, but they map an organisation's estate. Option ``identifiers``:

- ``"record"`` (default): found and recorded (an ALLOW result with reason
  ``resource_identifier`` and their spans, which the audit keeps), text untouched, so
  ordinary DevOps prompts are not refused; when the text also holds a secret, the
  result acts on the secrets only;
- ``"act"`` (or ``true``): treated like secrets (blocked on input, redacted on output);
- ``"off"`` (or ``false``): not searched.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from bastion.scanners._options import check_keys, choice_option
from bastion.scanners._secret_rules import PEM_TAIL, SPECS, ContextRule, SecretSpec
from bastion.scanners._secret_rules_context import CONTEXT_RULES
from bastion.scanners._secret_rules_generic import GENERIC_RULES
from bastion.scanners._secret_rules_identifiers import IDENTIFIER_RULES
from bastion.scanners._secret_rules_vendor import VENDOR_SPECS
from bastion.scanners.base import Decision, Finding, ScanContext, ScanResult, Stage

__all__ = ["SecretsScanner"]

_ACTIONS = {"block": Decision.BLOCK, "redact": Decision.REDACT}
_IDENTIFIER_MODES = {"record": "record", "act": "act", "off": "off", True: "act", False: "off"}
_IDENTIFIER_KINDS = frozenset(rule.kind for rule in IDENTIFIER_RULES)
_PLACEHOLDER_WORDS = ("example", "placeholder", "xxxx", "your", "redacted", "dummy", "sample")
_MAX_PEM_CHARS = 1 << 16
# Identifier rules score at most this: their values are not checked for placeholders.
_IDENTIFIER_SCORE = 0.5
# Values that stand for a secret rather than being one (context rules only).
_VALUE_PLACEHOLDERS = (
    *_PLACEHOLDER_WORDS,
    "xxx",
    "changeme",
    "change_me",
    "change-me",
    "changeit",
    "secret_here",
    "password_here",
    "token_here",
    "key_here",
    "insert",
    "replace",
    "fixme",
    "todo",
    "****",
    "...",
    "a1b2c3",
    "process.env",
    "os.environ",
    "getenv",
)
_VALUE_WORDS = frozenset(("null", "none", "nil", "undefined", "true", "false"))
_TEMPLATE = re.compile(r"\$\{|\{\{|%\(|<[\w \-]{1,40}>")
# Words joined by separators (``bearer_access_token_v2``): a name, not a random value.
_WORD = r"(?:[A-Za-z]+|[0-9]+|[A-Za-z]{1,2}[0-9]{1,3})"
_WORDS = re.compile(rf"{_WORD}(?:[_\-.]{_WORD})+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_GENERIC_KINDS = frozenset(("generic_secret", "generic_api_key"))
_NAMEABLE_KINDS = _GENERIC_KINDS | {"password", "connection_string_password"}


def _plausible(body: str, spec: SecretSpec, repeats: re.Pattern[str]) -> bool:
    """The random part of a real key: varied characters, no placeholder."""
    if len(set(body)) < spec.min_distinct:
        return False
    if spec.classes:
        if _classes(body) < spec.classes:
            return False
        lowered = body.lower()
        if any(word in lowered for word in _PLACEHOLDER_WORDS):
            return False
        if repeats.search(body) is not None:
            return False
    return True


def _entropy(body: str) -> float:
    """Shannon entropy of ``body`` in bits per character."""
    n = len(body)
    return -sum(c / n * math.log2(c / n) for c in (body.count(ch) for ch in set(body)))


def _has_run(body: str, length: int = 6) -> bool:
    """Whether ``body`` holds ``length`` consecutive ascending characters
    (``012345``, ``abcdef``): typed by hand, not drawn at random."""
    run = 1
    for prev, cur in itertools.pairwise(body):
        run = run + 1 if ord(cur) == ord(prev) + 1 else 1
        if run >= length:
            return True
    return False


def _classes(body: str) -> int:
    return (
        any(c.islower() for c in body)
        + any(c.isupper() for c in body)
        + any(c.isdigit() for c in body)
    )


def _context_value_ok(body: str, rule: ContextRule, repeats: re.Pattern[str]) -> bool:
    """A context rule's value: not a placeholder, a reference or a UUID; varied enough."""
    if rule.score <= _IDENTIFIER_SCORE:
        return len(set(body)) >= rule.min_distinct and _classes(body) >= rule.classes
    lowered = body.lower()
    if lowered in _VALUE_WORDS or body[0] in "$%{<[*":
        return False
    if any(word in lowered for word in _VALUE_PLACEHOLDERS):
        return False
    if _TEMPLATE.search(body) is not None:
        return False
    if rule.repeats and repeats.search(body) is not None:
        return False
    if len(set(body)) < rule.min_distinct:
        return False
    if rule.classes and _classes(body) < rule.classes:
        return False
    if rule.kind in _NAMEABLE_KINDS and _DOTTED_NAME.fullmatch(body) is not None:
        return False
    generic = rule.kind in _GENERIC_KINDS
    if generic and (
        not any(c.isdigit() for c in body)
        or _UUID.fullmatch(body) is not None
        or _WORDS.fullmatch(body) is not None
        or _has_run(body)
    ):
        return False
    return not rule.entropy or _entropy(body) >= rule.entropy


def _positions(lowered: str, needle: str, pos: int) -> list[int]:
    """Every position of ``needle`` in ``lowered``, the first being ``pos``."""
    positions = []
    while pos >= 0:
        positions.append(pos)
        pos = lowered.find(needle, pos + 1)
    return positions


# Characters that rarely occur in prose, rarest first: a needle holding one is skipped
# (one ``memchr``) when the text lacks it.
_GATE_ORDER = "_$!-:0123456789ZQXJKVYUGHFPBMDWTLNRCOSEIA"


def _auto_gate(needles: tuple[str, ...]) -> str:
    """The rarest character every needle contains, or "" if there is none."""
    return next((c for c in _GATE_ORDER if all(c in n for n in needles)), "")


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
        check_keys(self.name, opts, ("input_action", "output_action", "identifiers"))
        self.input_action = choice_option(self.name, opts, "input_action", "block", _ACTIONS)
        self.output_action = choice_option(self.name, opts, "output_action", "redact", _ACTIONS)
        by_gate: dict[str, list[tuple[SecretSpec, re.Pattern[str]]]] = {}
        for spec in SPECS + VENDOR_SPECS:
            gate = spec.gate or _auto_gate(spec.needles)
            by_gate.setdefault(gate, []).append((spec, re.compile(spec.pattern)))
        self._rules = tuple((gate, tuple(specs)) for gate, specs in by_gate.items())
        identifiers = opts.get("identifiers", "record")
        if not isinstance(identifiers, str | bool) or identifiers not in _IDENTIFIER_MODES:
            raise ValueError(
                f'{self.name}: option \'identifiers\' must be "record", "act" or "off"'
            )
        self.identifiers = _IDENTIFIER_MODES[identifiers]
        searched = IDENTIFIER_RULES if self.identifiers != "off" else ()
        context = CONTEXT_RULES + GENERIC_RULES + searched
        self._context = tuple((rule, re.compile(rule.pattern)) for rule in context)
        by_needle: dict[str, list[tuple[ContextRule, re.Pattern[str]]]] = {}
        for rule, pattern in self._context:
            for needle in rule.needles:
                by_needle.setdefault(needle, []).append((rule, pattern))
        # Needles grouped by the gate characters that let one of their rules run
        # ("" = always), so one set test skips a whole group.
        groups: dict[str, list[tuple[str, tuple[tuple[ContextRule, re.Pattern[str]], ...]]]] = {}
        for needle, rules in by_needle.items():
            ungated = any(not rule.gates for rule, _ in rules)
            gates = "" if ungated else "".join(sorted({c for r, _ in rules for c in r.gates}))
            groups.setdefault(gates, []).append((needle, tuple(rules)))
        self._groups = tuple((gates, tuple(needles)) for gates, needles in groups.items())
        self._gate_chars = "".join(sorted({c for rule in context for c in rule.gates}))
        self._all_gated = all(rule.gates for rule in context)
        self._pem_tail = re.compile(PEM_TAIL)
        self._repeats = re.compile(r"(.)\1{4}")

    def __repr__(self) -> str:
        return (
            f"SecretsScanner(input_action={self.input_action!r}, "
            f"output_action={self.output_action!r}, identifiers={self.identifiers!r})"
        )

    def scan(self, text: str, context: ScanContext) -> ScanResult:
        found = self.find(text)
        if not found:
            return ScanResult.allow(self.name)
        findings = found
        if self.identifiers == "record":
            findings = tuple(f for f in found if f.type not in _IDENTIFIER_KINDS)
            if not findings:
                score = max(f.score for f in found)
                return ScanResult(self.name, Decision.ALLOW, score, "resource_identifier", found)
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
        for gate, specs in self._rules:
            if gate and gate not in text:
                continue
            for spec, pattern in specs:
                for needle in spec.needles:
                    pos = text.find(needle)
                    while pos >= 0:
                        if (
                            spec.left is None
                            or pos == 0
                            or not _word_before(text[pos - 1], spec.left)
                        ):
                            match = pattern.match(text, pos)
                            if match is not None:
                                finding = self._check(text, spec, match)
                                if finding is not None:
                                    found.append(finding)
                        pos = text.find(needle, pos + 1)
        found.extend(self._find_in_context(text))
        found.sort(key=lambda f: (f.start, f.end))
        return tuple(found)

    def _find_in_context(self, text: str) -> list[Finding]:
        present = {c for c in self._gate_chars if c in text}
        if not present and self._all_gated:
            return []
        lowered = text.lower()
        spans: dict[tuple[str, int, int], float] = {}
        for gates, needles in self._groups:
            if gates and present.isdisjoint(gates):
                continue
            for needle, rules in needles:
                pos = lowered.find(needle)
                if pos >= 0:
                    self._run(text, lowered, needle, pos, rules, present, spans)
        return [Finding(kind, start, end, score) for (kind, start, end), score in spans.items()]

    def _run(
        self,
        text: str,
        lowered: str,
        needle: str,
        pos: int,
        rules: tuple[tuple[ContextRule, re.Pattern[str]], ...],
        present: set[str],
        spans: dict[tuple[str, int, int], float],
    ) -> None:
        """Run the rules of one needle first found at ``pos``; record their spans."""
        # Needle positions index ``text`` only if lowercasing kept every length.
        same_length = len(lowered) == len(text)
        positions: list[int] = []
        for rule, pattern in rules:
            if rule.gates and present.isdisjoint(rule.gates):
                continue
            matches: Iterable[re.Match[str] | None]
            if rule.anchored and same_length:
                if not positions:
                    positions = _positions(lowered, needle, pos)
                matches = (pattern.match(text, p) for p in positions)
            else:
                matches = pattern.finditer(text)
            for match in matches:
                if match is None:
                    continue
                group = next(
                    (g for g in pattern.groupindex if g.startswith("body") and match.group(g)),
                    None,
                )
                if group is not None and _context_value_ok(match.group(group), rule, self._repeats):
                    spans[(rule.kind, *match.span(group))] = rule.score

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
