"""Street addresses, found by their shape: word lists and patterns, no gazetteer, no model.

Found:

- a house number, a capitalised street name and an English street type ("221B Baker
  Street", "1600 Pennsylvania Avenue NW", "42 Wallaby Way");
- European forms: a street word glued to the name or written after it, then the number
  ("Koskikatu 25", "Søndergade 52", "Villacher Strasse 89", "Erzsébet tér 19"), or a
  street word before the name ("Rue de Rivoli 12", "31 Rue Al Imam", "Via Roma 131",
  "Calle Mayor 5", "ul. Słowicza 10");
- PO boxes ("P.O. Box 123") and US military addresses ("PSC 0729, Box 5797 APO AP
  96854", "USNS Bergman FPO AP 93757");
- right after a context phrase ("lives at", "address:", "ship to", "home:"...), a
  number and one to four capitalised words, and "the corner of <street> and <street>".

A street is extended over what follows it, across commas and a few line breaks: units
("Apt. 5", "Suite 408", "#12"), a city, a state and ZIP, a UK or Canadian postcode, a
country. A city is kept only when a unit, code or country follows it, so a street at
the end of a sentence does not swallow the next line.

Not found: a house number, ZIP or unit on its own; a street name without a number
("Baker Street"); a number followed by lowercase words ("5 miles down the street"); a
street type right after the number ("Chapter 12 Road to Perdition"); a capitalised
word and a number with no other evidence ("Parmova 109", "Python 3" need a house number
before them and a unit or code after them, or a context phrase).

A text without a digit is skipped after one scan (so "the corner of Main and Elm" needs
a digit elsewhere in the text).

Scores: 0.9 a street with a unit, code or country after it; 0.85 a street; 0.75 PO
boxes and military addresses; 0.7 a weak form with evidence; 0.6 context-gated forms.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bastion.dlp import _address_words as words
from bastion.dlp._address_parts import MILITARY, PO_BOX, after_context, continuation
from bastion.dlp.entities import EntityType, PiiFinding

__all__ = ["find_addresses"]

FULL_SCORE = 0.9
STREET_SCORE = 0.85
BOX_SCORE = 0.75
EVIDENCE_SCORE = 0.7
CONTEXT_SCORE = 0.6

_STRONG, _WEAK_SUFFIX, _WEAK_ADJ, _WEAK, _CONTEXT_ONLY, _BOX = range(6)

_L, _CAP, _ORDINAL = words.LETTER, words.CAPITALISED, words.ORDINAL
_TOKEN = rf"{_L}(?:{_L}|['’./-]){{0,40}}"

# A house number: not part of a decimal, a time, a price, an identifier or a date.
_NUM = re.compile(
    r"(?<![\w.,:/$€£¥#+-])\d{1,5}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?(?![\w%$€£:/-]|[.,]\d)"
)
_NEXT_TOKEN = re.compile(rf"[ \t]{{1,3}}({_TOKEN}|{_ORDINAL})(?![\w])")
# Applied to the reversed line before a number: up to six words, nearest first.
_PREV_TOKENS = re.compile(rf"(?:[ \t]{{1,3}}(?:{_L}|['’./-]){{0,40}}{_L}(?![\w'’./-])){{1,6}}")
_DIGIT = re.compile(r"\d")
_WORD_SPAN = re.compile(r"\S+")
_PREV_NUMBER = re.compile(r"(?<![\w.,:/$€£-])\d{1,6}[ \t]{1,3}\Z")
_GLUED = re.compile(
    rf"{_L}[\w'’.-]{{3,40}}?(?:{'|'.join(re.escape(s) for s in words.GLUED_SUFFIXES)})",
    re.IGNORECASE,
)
_TRAILING_NUMBER = re.compile(r"[ \t]{1,3}\d{1,5}[A-Za-z]?(?![\w,.]\d|[\w%])")
_LOWER_PREFIX = re.compile(r"\br[ua]e\s")

_CORNER = re.compile(
    r"(?i:the[ \t]+)?(?i:corner)[ \t]+of[ \t]+(?P<a>(?:[\w./'’-]+[ \t]+){0,5}?[\w./'’-]+)"
    rf"[ \t]+and[ \t]+(?P<b>{_CAP}(?:[ \t]+{_CAP}){{0,3}})"
)
_STRIP = " \t\r\n.,;:-"


def _has(word: str, table: frozenset[str]) -> bool:
    low = word.lower()
    return low in table or low.rstrip(".") in table


def _is_name(word: str) -> bool:
    return word[0].isupper() or word[0].isdigit()


def _is_particle(word: str) -> bool:
    low = word.lower()
    return low in words.PARTICLES or low.startswith(("d'", "l'", "d’", "l’"))


def _is_glued(word: str) -> bool:
    return (
        word[0].isupper()
        and word.lower() not in words.GLUED_EXCLUDED
        and _GLUED.fullmatch(word) is not None
    )


def _is_prefix(word: str, following: str | None) -> bool:
    low = word.lower()
    if low not in words.PREFIXES or following is None:
        return False
    if low in words.NEEDS_PARTICLE_PREFIXES:
        return word[0].isupper() and _is_particle(following)
    return (word[0].isupper() or low in ("rue", "rua", "calle", "ul.", "c/")) and (
        _is_name(following) or _is_particle(following)
    )


def _name_run(toks: list[str], first: int, limit: int) -> int:
    """Index of the last name word of the run starting at ``first`` (particles may not
    end it), or ``first - 1`` when there is none."""
    last = first - 1
    for i in range(first, min(len(toks), first + limit)):
        if _is_name(toks[i]):
            last = i
        elif not _is_particle(toks[i]):
            break
    return last


def _number_first(toks: list[str]) -> tuple[int, int] | None:
    """(index of the street's last word, kind) for words after a house number."""
    if _is_prefix(toks[0], toks[1] if len(toks) > 1 else None):
        last = _name_run(toks, 1, 5)
        return (last, _STRONG) if last >= 1 else None
    weak: tuple[int, int] | None = None
    for i, word in enumerate(toks):
        if not _is_name(word):
            break
        if _is_glued(word) or (i >= 1 and _has(word, words.SEPARATE_SUFFIXES)):
            return i, _STRONG
        if i >= 1 and (word.istitle() or word.isupper()):
            strong = _has(word, words.EN_SUFFIXES)
            if strong or (weak is None and _has(word, words.EN_WEAK_SUFFIXES)):
                kind = _STRONG if strong else _WEAK_SUFFIX
                # A direction after the street type is part of the street ("Ave NW").
                last = i + 1 if i + 1 < len(toks) and _has(toks[i + 1], words.DIRECTIONS) else i
                if strong:
                    return last, kind
                weak = last, kind
    return weak


def _name_first(toks: list[str]) -> tuple[int, int] | None:
    """(index of the street's first word, kind) for words before a house number."""
    last = toks[-1]
    n = len(toks)
    if _is_glued(last):
        return n - 1, _STRONG
    separate = _has(last, words.SEPARATE_SUFFIXES)
    if n >= 2 and (separate or last in words.WEAK_SEPARATE_SUFFIXES) and _is_name(toks[-2]):
        first = n - 2
        while first > max(0, n - 4) and _is_name(toks[first - 1]):
            first -= 1
        return first, _STRONG if separate else _WEAK_ADJ
    lowercase_ok = True  # "rue du centre 320": lowercase words after "rue" or "rua"
    for k in range(n - 2, max(-1, n - 7), -1):
        if _is_prefix(toks[k], toks[k + 1]):
            return k, _STRONG
        if lowercase_ok and toks[k].lower() in ("rue", "rua"):
            return k, _STRONG
        lowercase_ok = lowercase_ok and not toks[k][0].isupper()
        if not (_is_name(toks[k]) or _is_particle(toks[k]) or lowercase_ok):
            break
    if not _is_name(last):
        return None
    if last.lower().endswith(words.CZECH_ENDINGS):
        return n - 1, _WEAK_ADJ
    first = n - 1
    while first > max(0, n - 3) and _is_name(toks[first - 1]):
        first -= 1
    return first, _WEAK


def _words_after(text: str, pos: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    limit = 7
    while len(spans) < limit:
        m = _NEXT_TOKEN.match(text, pos)
        if m is None:
            break
        if not spans and not text[m.start(1)].isupper():
            limit = 4  # lowercase words: only the context form, three words at most
        spans.append(m.span(1))
        pos = m.end()
    return spans


def _words_before(text: str, pos: int) -> list[tuple[int, int]]:
    lo = max(0, pos - 160)
    m = _PREV_TOKENS.match(text[lo:pos][::-1])
    if m is None:
        return []
    start = pos - m.end()
    return [w.span() for w in _WORD_SPAN.finditer(text, start, pos)]


def _context_form(text: str, toks: list[str], after: list[tuple[int, int]]) -> int | None:
    """End of "number + capitalised words (+ number)", or "number + lowercase words +
    number" (kept only after a context phrase)."""
    n = 0
    while n < min(4, len(toks)) and toks[n][0].isupper():
        n += 1
    if n == 0:
        n = len(toks)
        if n > 3 or any(t.lower() in words.STOP_WORDS for t in toks):
            return None
    end = after[n - 1][1]
    number = _TRAILING_NUMBER.match(text, end)
    if number is not None:
        return number.end()
    return end if toks[0][0].isupper() else None


def _candidates(text: str) -> Iterator[tuple[int, int, int]]:
    """(start, end, kind) of street cores found around each house number."""
    for num in _NUM.finditer(text):
        s, e = num.span()
        after = _words_after(text, e) if text[e : e + 1] in (" ", "\t") else None
        if after:
            toks = [text[a:b] for a, b in after]
            year_like = len(num.group()) == 4 and num.group()[:2] in ("18", "19", "20")
            before = text[max(0, s - 12) : s].split()
            word_before = before[-1].lower() if before else ""
            if word_before not in words.COUNTER_WORDS and not (
                year_like and word_before in words.YEAR_CONTEXT
            ):
                found = _number_first(toks)
                if found is not None:
                    end = after[found[0]][1]
                    number = _TRAILING_NUMBER.match(text, end)
                    yield s, end if number is None else number.end(), found[1]
                else:
                    context_end = _context_form(text, toks, after)
                    if context_end is not None:
                        yield s, context_end, _CONTEXT_ONLY
        if s < 2 or text[s - 1] not in (" ", "\t"):
            continue
        previous = text[max(0, s - 42) : s - 1].rsplit(None, 1)[-1:]
        if not previous or not (
            previous[0][0].isupper()
            or _has(previous[0], words.SEPARATE_SUFFIXES)
            or previous[0] in words.WEAK_SEPARATE_SUFFIXES
            or _LOWER_PREFIX.search(text, max(0, s - 42), s)
        ):
            continue
        before_spans = _words_before(text, s)
        if before_spans:
            toks = [text[a:b] for a, b in before_spans]
            found = _name_first(toks)
            if found is not None:
                dot = text[e : e + 1] == "." and text[e + 1 : e + 2] in ("", " ", "\n", "\t")
                yield before_spans[found[0]][0], e + dot, found[1]


def _score(kind: int, prenumber: bool, more: bool, context: bool) -> float | None:
    if kind == _BOX:
        return BOX_SCORE
    if kind == _STRONG:
        return FULL_SCORE if more else STREET_SCORE
    evidence = {
        _WEAK_SUFFIX: more,
        _WEAK_ADJ: prenumber or more,
        _WEAK: prenumber and more,
        _CONTEXT_ONLY: False,
    }[kind]
    if evidence:
        return EVIDENCE_SCORE
    return CONTEXT_SCORE if context else None


def _found(text: str) -> Iterator[tuple[int, int, float]]:
    lower = text.lower()
    if "po a" in lower:
        for m in MILITARY.finditer(text):
            yield m.start(), m.end(), BOX_SCORE
    if "corner" in lower:
        for m in _CORNER.finditer(text):
            a, b = m.group("a"), m.group("b")
            if (_is_name(a) or a.lower().startswith("ul.")) and not _has(b, words.PARTICLES):
                yield m.start(), m.end(), CONTEXT_SCORE
    cores = list(_candidates(text))
    if any(box in lower for box in ("box", "postfach", "apartado", "casilla", "postal")):
        cores.extend((m.start(), m.end(), _BOX) for m in PO_BOX.finditer(text))
    for start, end, kind in cores:
        pre = _PREV_NUMBER.search(text, max(0, start - 12), start)
        first = pre.start() if pre is not None else start
        context = kind not in (_STRONG, _BOX) and (
            after_context(text, first) or (first != start and after_context(text, start))
        )
        if not context and (kind == _CONTEXT_ONLY or (kind == _WEAK and pre is None)):
            continue  # nothing after it could make it an address
        stop, more = continuation(text, end)
        score = _score(kind, pre is not None, more, context)
        if score is not None:
            yield first, stop, score


def find_addresses(text: str) -> Iterator[PiiFinding]:
    """Street addresses, PO boxes and military addresses (see the module docstring);
    overlapping matches are merged into one finding with the highest score."""
    if _DIGIT.search(text) is None:
        return
    merged: list[tuple[int, int, float]] = []
    for start, end, score in sorted(_found(text)):
        while end > start and text[end - 1] in _STRIP:
            end -= 1
        while start < end and text[start] in _STRIP:
            start += 1
        if start >= end:
            continue
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), max(last[2], score))
        else:
            merged.append((start, end, score))
    for start, end, score in merged:
        yield PiiFinding(EntityType.STREET_ADDRESS, start, end, score)
