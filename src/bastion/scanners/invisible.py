"""``invisible_text``: characters a human reviewer cannot see but a model reads.

Three families, each with its own action (``"block"``, ``"redact"`` or ``"allow"``):

* Unicode tag characters U+E0000-E007F (``tag_action``, default block, reason
  ``unicode_tag_smuggling``). They spell ASCII invisibly. Allowed: an emoji
  subdivision flag, i.e. U+1F3F4 followed by 1-7 tag letters/digits and the cancel
  tag U+E007F (England, Scotland, Wales flags).
* Runs of two or more consecutive variation selectors U+FE00-FE0F / U+E0100-E01EF
  (``variation_selector_action``, default block, reason
  ``variation_selector_smuggling``). Every standardized, emoji and ideographic
  variation sequence uses exactly one selector, so a run is never text: it is the
  "data in emoji" smuggling channel (one selector per byte).
* Other invisible and format characters (``invisible_action``, default redact,
  reason ``invisible_characters``): zero-width space and friends, bidi controls, the
  invisible operators, soft hyphen, fillers, and a lone variation selector after an
  ASCII letter (the one-selector-per-letter variant of the channel). One finding per
  run of characters of the same type. Allowed in context: ZWJ between emoji (family
  and profession sequences) and ZWJ/ZWNJ between letters of scripts that need them
  (Arabic, Persian, Indic, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bastion.scanners._options import check_keys, choice_option
from bastion.scanners.base import Decision, Finding, ScanContext, ScanResult

__all__ = ["InvisibleTextScanner"]

_ACTIONS = ("allow", "block", "redact")
_ACTION_DECISION = {"allow": Decision.ALLOW, "block": Decision.BLOCK, "redact": Decision.REDACT}

_ZWNJ = 0x200C
_ZWJ = 0x200D
_BLACK_FLAG = 0x1F3F4
_CANCEL_TAG = 0xE007F

# Invisible or format characters that are redacted unless their context allows them.
_INVISIBLE_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x00AD, 0x00AD, "format_control"),  # soft hyphen
    (0x034F, 0x034F, "zero_width"),  # combining grapheme joiner
    (0x061C, 0x061C, "bidi_control"),  # Arabic letter mark
    (0x115F, 0x1160, "format_control"),  # Hangul fillers
    (0x17B4, 0x17B5, "format_control"),  # Khmer inherent vowels
    (0x180E, 0x180E, "zero_width"),  # Mongolian vowel separator
    (0x200B, 0x200D, "zero_width"),  # ZWSP, ZWNJ, ZWJ
    (0x200E, 0x200F, "bidi_control"),  # LRM, RLM
    (0x202A, 0x202E, "bidi_control"),  # embeddings and overrides
    (0x2060, 0x2060, "zero_width"),  # word joiner
    (0x2061, 0x2064, "invisible_operator"),
    (0x2066, 0x2069, "bidi_control"),  # isolates
    (0x206A, 0x206F, "format_control"),  # deprecated format characters
    (0x3164, 0x3164, "format_control"),  # Hangul filler
    (0xFEFF, 0xFEFF, "zero_width"),  # BOM / zero-width no-break space
    (0xFFA0, 0xFFA0, "format_control"),  # halfwidth Hangul filler
    (0xFFF9, 0xFFFB, "format_control"),  # interlinear annotation
    (0x1D173, 0x1D17A, "format_control"),  # musical format characters
)
_VS_RANGES = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
_TAG_RANGE = (0xE0000, 0xE007F)

# Letters of scripts where ZWJ/ZWNJ are ordinary orthography.
_JOINING_SCRIPTS = (
    (0x0600, 0x08FF),  # Arabic, Syriac, Thaana, N'Ko, Arabic extensions
    (0x0900, 0x0DFF),  # Indic scripts through Sinhala
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x18AF),  # Khmer, Mongolian
    (0xA8E0, 0xA8FF),  # Devanagari extended
    (0xFB50, 0xFDFF),  # Arabic presentation forms A
    (0xFE70, 0xFEFE),  # Arabic presentation forms B
)
# Code points that take part in emoji sequences (a deliberately broad superset).
_EMOJI_RANGES = (
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x2190, 0x21FF),
    (0x2300, 0x23FF),
    (0x24C2, 0x24C2),
    (0x25A0, 0x27BF),
    (0x2900, 0x297F),
    (0x2B00, 0x2BFF),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3299),
    (0x1F000, 0x1FAFF),
)


def _in(cp: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


def _is_vs(cp: int) -> bool:
    return 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF


def _is_tag(cp: int) -> bool:
    return _TAG_RANGE[0] <= cp <= _TAG_RANGE[1]


def _invisible_type(cp: int) -> str:
    for lo, hi, kind in _INVISIBLE_RANGES:
        if lo <= cp <= hi:
            return kind
    return "format_control"  # unreachable for characters the run regex matched


def _char_class() -> str:
    ranges = [(lo, hi) for lo, hi, _ in _INVISIBLE_RANGES] + [*_VS_RANGES, _TAG_RANGE]
    parts = (
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in sorted(ranges)
    )
    return "[" + "".join(parts) + "]"


def _ranges_class(ranges: tuple[tuple[int, int], ...], extra: str = "") -> str:
    parts = "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges)
    return f"[{parts}{extra}]"


def _allowed_joiner_ahead() -> str:
    """Just past a matched character: it was a joiner :func:`_joiner_allowed` accepts
    (a lookbehind over it and its predecessor, then the next character)."""
    join = _ranges_class(_JOINING_SCRIPTS)
    emoji = _ranges_class(_EMOJI_RANGES)
    emoji_prev = _ranges_class(_EMOJI_RANGES, "\ufe0f\u20e3\U000e007f")
    return f"(?<={join}[\u200c\u200d]){join}|(?<={emoji_prev}\u200d){emoji}"


class InvisibleTextScanner:
    """Finds invisible characters; see the module docstring for the rules."""

    name = "invisible_text"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        opts = options or {}
        check_keys(self.name, opts, ("invisible_action", "tag_action", "variation_selector_action"))
        self.tag_action = choice_option(self.name, opts, "tag_action", "block", _ACTIONS)
        self.variation_selector_action = choice_option(
            self.name, opts, "variation_selector_action", "block", _ACTIONS
        )
        self.invisible_action = choice_option(
            self.name, opts, "invisible_action", "redact", _ACTIONS
        )
        # A special character, unless it is a joiner in an allowed context: the regex
        # engine skips ordinary emoji and Persian/Indic joiners without Python code.
        char = f"{_char_class()}(?!{_allowed_joiner_ahead()})"
        self._first = re.compile(char)
        self._run = re.compile(f"(?:{char})+")
        self._non_latin1 = re.compile("[^\\x00-\\xac\\xae-\\xff]")

    def __repr__(self) -> str:
        return (
            f"InvisibleTextScanner(tag_action={self.tag_action!r}, "
            f"variation_selector_action={self.variation_selector_action!r}, "
            f"invisible_action={self.invisible_action!r})"
        )

    def scan(self, text: str, context: ScanContext) -> ScanResult:
        # Prefilter: ASCII text (an O(1) flag in CPython) and Latin-1 text other than
        # the soft hyphen cannot hold any of these characters.
        latin1 = text.isascii() or self._non_latin1.search(text) is None
        if latin1 and "\u00ad" not in text:
            return ScanResult.allow(self.name)
        first = self._first.search(text)
        if first is None:
            return ScanResult.allow(self.name)
        tags: list[Finding] = []
        selectors: list[Finding] = []
        invisible: list[list[Any]] = []
        for run in self._run.finditer(text, first.start()):
            self._classify(text, run.start(), run.end(), tags, selectors, invisible)
        families = (
            (self.tag_action, "unicode_tag_smuggling", 1.0, tags),
            (self.variation_selector_action, "variation_selector_smuggling", 1.0, selectors),
            (
                self.invisible_action,
                "invisible_characters",
                0.6,
                [Finding(k, s, e, replacement="") for k, s, e in invisible],
            ),
        )
        decision = Decision.ALLOW
        reason = ""
        score = 0.0
        findings: list[Finding] = []
        for action, family_reason, family_score, found in families:
            family_decision = _ACTION_DECISION[action]
            if not found or family_decision is Decision.ALLOW:
                continue
            findings.extend(found)
            score = max(score, family_score)
            if family_decision > decision:
                decision, reason = family_decision, family_reason
        if decision is Decision.ALLOW:
            return ScanResult.allow(self.name)
        findings.sort(key=lambda f: (f.start, f.end))
        return ScanResult(self.name, decision, score, reason, tuple(findings))

    def _classify(
        self,
        text: str,
        start: int,
        end: int,
        tags: list[Finding],
        selectors: list[Finding],
        invisible: list[list[Any]],
    ) -> None:
        """Sort one run of special characters into the three families."""
        i = start
        while i < end:
            cp = ord(text[i])
            if _is_tag(cp):
                j = i + 1
                while j < end and _is_tag(ord(text[j])):
                    j += 1
                if not _is_flag_tags(text, i, j):
                    tags.append(Finding("unicode_tag", i, j))
                i = j
                continue
            if _is_vs(cp):
                j = i + 1
                while j < end and _is_vs(ord(text[j])):
                    j += 1
                if j - i > 1:
                    selectors.append(Finding("variation_selector_run", i, j))
                elif not _vs_has_base(text, i):
                    _add_run(invisible, "variation_selector", i)
                i = j
                continue
            if not _joiner_allowed(text, i, cp):
                _add_run(invisible, _invisible_type(cp), i)
            i += 1


def _add_run(runs: list[list[Any]], kind: str, index: int) -> None:
    if runs and runs[-1][0] == kind and runs[-1][2] == index:
        runs[-1][2] = index + 1
    else:
        runs.append([kind, index, index + 1])


def _is_flag_tags(text: str, start: int, end: int) -> bool:
    """Tags ``[start, end)`` form (or, at end of text, may still form) a subdivision flag."""
    if start == 0 or ord(text[start - 1]) != _BLACK_FLAG:
        return False
    terminated = ord(text[end - 1]) == _CANCEL_TAG
    body = text[start : end - 1] if terminated else text[start:end]
    if not terminated and end != len(text):
        return False
    if len(body) > 7 or (terminated and not body):
        return False
    return all(0xE0030 <= ord(c) <= 0xE0039 or 0xE0061 <= ord(c) <= 0xE007A for c in body)


def _vs_has_base(text: str, index: int) -> bool:
    """A lone selector needs a base character that is not an ASCII letter or invisible."""
    if index == 0:
        return False
    prev = text[index - 1]
    if prev.isascii():
        return not (prev.isalpha() or prev.isspace())
    cp = ord(prev)
    return not (_is_tag(cp) or any(lo <= cp <= hi for lo, hi, _ in _INVISIBLE_RANGES))


def _joiner_allowed(text: str, index: int, cp: int) -> bool:
    """ZWJ between emoji, and ZWJ/ZWNJ between letters of joining scripts, are text."""
    if cp not in (_ZWJ, _ZWNJ) or index == 0 or index + 1 >= len(text):
        return False
    prev, nxt = ord(text[index - 1]), ord(text[index + 1])
    if _in(prev, _JOINING_SCRIPTS) and _in(nxt, _JOINING_SCRIPTS):
        return True
    if cp != _ZWJ:
        return False
    prev_emoji = _in(prev, _EMOJI_RANGES) or prev in (0xFE0F, 0x20E3, _CANCEL_TAG)
    return prev_emoji and _in(nxt, _EMOJI_RANGES)
