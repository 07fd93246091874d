"""Numeric identifiers with a check: payment cards (Luhn + IIN), IBANs (mod 97), US SSNs.

Each ``find_*`` yields :class:`PiiFinding` for one entity type; the caller resolves
overlaps between types.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator

from stdnum import iban as _iban

from bastion.dlp.entities import EntityType, PiiFinding

__all__ = ["find_cards", "find_ibans", "find_ssns"]

CARD_SCORE = 1.0
CARD_CONTEXT_SCORE = 0.85
IBAN_SCORE = 1.0
SSN_DASHED_SCORE = 0.9
SSN_SPACED_SCORE = 0.8
SSN_BARE_SCORE = 0.7

# A maximal run of digits, single spaces or hyphens between them; not inside a word, a
# decimal number or a longer dotted/comma-separated number.
_CARD_RUN = re.compile(r"(?<!\w)(?<!\d[.,])\d(?:[ -]?\d){11,}(?!\w)(?![.,]\d)")
# A card word just before a number: then any Luhn-valid 12-19 digits is a card, whatever
# its prefix (IIN tables go stale; 12-digit Maestro and new JCB ranges are real).
_CARD_CONTEXT = re.compile(
    r"\b(?:cards?|cc|visa|master ?card|amex|maestro|jcb|discover|diners|unionpay)\b"
    r"[^\d\n]{0,24}$",
    re.IGNORECASE,
)
_CARD_SEP = re.compile(r"[ -]")
_DIGIT_GROUP = re.compile(r"\d+")

# (low prefix, high prefix, allowed lengths); prefixes compared on their own width.
_IIN_RANGES: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset((13, 16, 19))),  # Visa
    ("51", "55", frozenset((16,))),  # Mastercard
    ("2221", "2720", frozenset((16,))),  # Mastercard 2-series
    ("34", "34", frozenset((15,))),  # American Express
    ("37", "37", frozenset((15,))),
    ("6011", "6011", frozenset(range(16, 20))),  # Discover
    ("644", "649", frozenset(range(16, 20))),
    ("65", "65", frozenset(range(16, 20))),
    ("3528", "3589", frozenset(range(16, 20))),  # JCB
    ("1800", "1800", frozenset((15,))),  # JCB, legacy 15-digit
    ("2131", "2131", frozenset((15,))),
    ("300", "305", frozenset(range(14, 20))),  # Diners Club
    ("36", "36", frozenset(range(14, 20))),
    ("38", "39", frozenset(range(14, 20))),
    ("62", "62", frozenset(range(16, 20))),  # UnionPay
    ("50", "50", frozenset(range(13, 20))),  # Maestro
    ("56", "69", frozenset(range(13, 20))),
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i & 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_ok(digits: str) -> bool:
    n = len(digits)
    if not 13 <= n <= 19:
        return False
    for low, high, lengths in _IIN_RANGES:
        if n in lengths and low <= digits[: len(low)] <= high:
            return _luhn_ok(digits)
    return False


def find_cards(text: str) -> Iterator[PiiFinding]:
    """Payment card numbers: 13-19 digits, known IIN prefix and length, Luhn-valid; or,
    right after a card word ("card", "cc", "visa"...), any Luhn-valid 12-19 digits."""
    for match in _CARD_RUN.finditer(text):
        run = match.group()
        digits = _CARD_SEP.sub("", run)
        if _card_ok(digits):
            yield PiiFinding(EntityType.CREDIT_CARD, match.start(), match.end(), CARD_SCORE)
            continue
        if (
            12 <= len(digits) <= 19
            and _CARD_CONTEXT.search(text, max(0, match.start() - 40), match.start()) is not None
            and _luhn_ok(digits)
        ):
            yield PiiFinding(EntityType.CREDIT_CARD, match.start(), match.end(), CARD_CONTEXT_SCORE)
            continue
        yield from _cards_in_grouped_run(run, match.start())


def _cards_in_grouped_run(run: str, offset: int) -> Iterator[PiiFinding]:
    """A card inside a longer grouped run ("ref 12 4111 1111 1111 1111"): whole groups
    only, starting with a 4-digit group, every group 3-6 digits (the card layouts)."""
    groups = [(m.start(), m.end()) for m in _DIGIT_GROUP.finditer(run)]
    if len(groups) < 2:
        return
    i = 0
    while i < len(groups):
        found = None
        if groups[i][1] - groups[i][0] == 4:
            digits = ""
            for j in range(i, len(groups)):
                start, end = groups[j]
                if not 3 <= end - start <= 6:
                    break
                digits += run[start:end]
                if len(digits) > 19:
                    break
                if _card_ok(digits):
                    found = j
        if found is None:
            i += 1
            continue
        yield PiiFinding(
            EntityType.CREDIT_CARD, offset + groups[i][0], offset + groups[found][1], CARD_SCORE
        )
        i = found + 1


# Compact, or in groups of 4 separated by single spaces; 15-34 characters in all.
_IBAN_CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}"
    r"(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,3})?)"
    r"(?![A-Za-z0-9])"
)


def find_ibans(text: str) -> Iterator[PiiFinding]:
    """IBANs whose check digits, country length and BBAN layout verify (python-stdnum)."""
    for match in _IBAN_CANDIDATE.finditer(text):
        value = match.group()
        if not (value.isupper() or value.islower()):  # one case throughout
            continue
        end = len(value)
        while end >= 15:
            candidate = value[:end]
            if _iban.is_valid(candidate):
                start = match.start()
                yield PiiFinding(EntityType.IBAN_CODE, start, start + end, IBAN_SCORE)
                break
            cut = candidate.rfind(" ")
            if cut < 0:
                break
            end = cut


_SSN_GROUPED = re.compile(r"(?<![\w-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w-])(?![.,]\d)")
_SSN_BARE = re.compile(r"(?<![\w-])(\d{3})(\d{2})(\d{4})(?![\w-])(?![.,]\d)")
_SSN_CONTEXT = re.compile(
    r"(?i)\b(?:ssn|ssns|social\s+security(?:\s+(?:number|no\.?|#))?|soc\.?\s*sec\.?)(?![a-z])"
)
_SSN_CONTEXT_CHARS = 30
_FAKE_SSNS = frozenset(("078051120", "219099999", "123456789"))


def _ssn_ok(area: str, group: str, serial: str) -> bool:
    if area in ("000", "666") or area[0] == "9":
        return False
    if group == "00" or serial == "0000":
        return False
    return area + group + serial not in _FAKE_SSNS


def find_ssns(text: str) -> Iterator[PiiFinding]:
    """US SSNs: ``AAA-GG-SSSS`` or ``AAA GG SSSS``; nine bare digits only after a context
    word ("SSN", "social security") at most ~30 characters before."""
    for match in _SSN_GROUPED.finditer(text):
        area, sep, group, serial = match.groups()
        if _ssn_ok(area, group, serial):
            score = SSN_DASHED_SCORE if sep == "-" else SSN_SPACED_SCORE
            yield PiiFinding(EntityType.US_SSN, match.start(), match.end(), score)
    contexts = [m.end() for m in _SSN_CONTEXT.finditer(text)]
    if not contexts:
        return
    for match in _SSN_BARE.finditer(text):
        start = match.start()
        i = bisect_right(contexts, start)  # the last context ending at or before start
        if i == 0 or start - contexts[i - 1] > _SSN_CONTEXT_CHARS:
            continue
        if _ssn_ok(*match.groups()):
            yield PiiFinding(EntityType.US_SSN, start, match.end(), SSN_BARE_SCORE)
