"""National, tax and business identifiers with a check digit (python-stdnum).

:func:`find_national_ids` yields a :class:`PiiFinding` for each candidate whose shape
matches, whose stdnum ``is_valid`` passes, and, where a bare checksum is too weak to
tell it from any other number, that follows a context word ending at most
40 characters before it ("BSN: 111222333"). A found value is never inside a word, a
decimal, a longer digit run (dotted, dashed or space-grouped), a valid payment card or
a valid IBAN. The caller resolves overlaps between types.

Scores: 0.95 after a context word (0.9 where noted); without one, the score shown or
"context" when the form is only reported after a context word.

| type | stdnum validator | forms: score without context |
|---|---|---|
| US_ITIN | us.itin | ``9XX-XX-XXXX``: 0.8; bare/spaced: context (0.9) |
| UK_NHS | gb.nhs | ``943 476 5870``, bare: context |
| ES_NIF | es.nif (DNI, K/L/M) | ``54362315K``, ``54362315-K``: 0.8 |
| ES_NIE | es.nie | ``X2482300W``, ``X-2482300-W``: 0.8 |
| IT_FISCAL_CODE | it.codicefiscale (16 chars) | ``RCCMNL83S18D969H``: 0.85 |
| IT_VAT_CODE | it.iva | 11 digits: context (0.9, below EU_VAT's "IT ...") |
| PL_PESEL | pl.pesel | 11 digits: context |
| FI_PERSONAL_IDENTITY_CODE | fi.hetu | ``131052-308T``: 0.85 |
| AU_ABN | au.abn | ``83 914 571 673``, bare: context |
| AU_ACN | au.acn | ``004 085 616``, bare: context |
| AU_TFN | au.tfn | ``123 456 782``, 8 or 9 digits: context |
| IN_AADHAAR | in_.aadhaar (Verhoeff) | ``2341 2341 2346``, dashed, bare: context |
| IN_PAN | in_.pan (shape; no public check) | ``AAPPV8261K``: 0.7 |
| KR_RRN | kr.rrn | ``971013-9019902``: 0.85; bare: context (0.9) |
| DE_TAX_ID | de.idnr | ``36 574 261 809``, bare: context |
| FR_NIR | fr.nir (key mod 97) | ``2 95 10 99 126 111 93``: 0.85; bare 15: 0.7 |
| NL_BSN | nl.bsn (11-test) | ``1112.22.333``, ``111 222 333``, bare: context |
| CA_SIN | ca.sin (Luhn) | ``123-456-782``, spaced, bare: context |
| BR_CPF | br.cpf | ``390.533.447-05``: 0.8; bare 11: context |
| SE_PERSONAL_NUMBER | se.personnummer | ``880320-0016``: 0.7; 10/12 digits: context (0.9) |
| DK_CPR | dk.cpr (date only: no checksum since 2007) | ``211062-5629``, bare: context |
| NO_BIRTH_NUMBER | no.fodselsnummer | ``151086 95088``: 0.8; bare 11: context |
| BE_NATIONAL_NUMBER | be.nn | ``85.07.30-033.28``: 0.8; other layouts: context |
| EU_VAT | eu.vat (country prefix) | ``DE136695976``, ``NL 004495445B01``: 0.8 |
| ABA_ROUTING_NUMBER | us.rtn | 9 digits: context |

Cost: one combined precheck (seven digits with single separators between, or the
PAN / codice fiscale / HETU letter shapes) finds the few places worth a look; the
per-type patterns only run in a small window around each.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator

from bastion.dlp._national_table import CONTEXT_CHARS, SPECS, Form, Spec
from bastion.dlp._numbers import find_cards, find_ibans
from bastion.dlp.entities import EntityType, PiiFinding

__all__ = ["NATIONAL_ENTITIES", "find_national_ids"]

NATIONAL_ENTITIES: frozenset[EntityType] = frozenset(spec.entity for spec in SPECS)
"""The types :func:`find_national_ids` finds."""

# Every form of every type contains a match of this (checked by the tests). The leading
# lookahead lets the engine skip lowercase prose twice as fast as the bare alternation.
_PRECHECK = re.compile(
    r"(?=[\dA-Z])(?:\d(?:[ ./+-]?\d){6}"
    r"|\d{6}[A-FU-Y]\d{3}"
    r"|[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}"
    r"|[A-Z]{6}[\dLMNPQRSTUV]{2}[ABCDEHLMPRST])"
)
# Longer than any form's reach beyond its precheck match, plus the lookahead's two.
_MARGIN = 32
_TRIM_SEPARATORS = frozenset(" .-")


def _windows(text: str) -> list[tuple[int, int]]:
    """Merged ``[lo, hi)`` spans around every precheck match."""
    windows: list[tuple[int, int]] = []
    for match in _PRECHECK.finditer(text):
        lo, hi = max(0, match.start() - _MARGIN), min(len(text), match.end() + _MARGIN)
        if windows and lo <= windows[-1][1]:
            windows[-1] = (windows[-1][0], hi)
        else:
            windows.append((lo, hi))
    return windows


def _valid_end(spec: Spec, text: str, start: int, end: int) -> int | None:
    """``end`` if ``text[start:end]`` validates; for trimming types, else the longest
    prefix cut at a separator that validates and is not followed by more digits."""
    while True:
        if spec.validator(spec.compact(text[start:end])):
            return end
        if not spec.trim:
            return None
        cut = end - 1
        while cut > start + 8 and text[cut] not in _TRIM_SEPARATORS:
            cut -= 1
        if cut <= start + 8 or text[cut + 1].isdigit():
            return None
        end = cut


def _score(spec: Spec, form: Form, text: str, start: int) -> float | None:
    if spec.context.search(text, max(0, start - CONTEXT_CHARS), start):
        return form.ctx_score
    return form.free_score


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def find_national_ids(
    text: str, entities: Collection[EntityType] | None = None
) -> Iterator[PiiFinding]:
    """National, tax and business identifiers in ``text`` (``entities``: only these
    types; others are ignored), sorted by ``(start, end, type)``."""
    specs = SPECS if entities is None else tuple(s for s in SPECS if s.entity in entities)
    if not specs or not text:
        return
    windows = _windows(text)
    if not windows:
        return
    size = len(text)
    found: dict[tuple[int, int, EntityType], float] = {}
    for lo, hi in windows:
        for spec in specs:
            for form in spec.forms:
                for match in form.pattern.finditer(text, lo, hi):
                    start = match.start()
                    if hi < size and match.end() + 2 > hi:
                        continue  # the lookahead did not see the text after it
                    score = _score(spec, form, text, start)
                    if score is None:
                        continue
                    end = _valid_end(spec, text, start, match.end())
                    if end is None:
                        continue
                    key = (start, end, spec.entity)
                    found[key] = max(score, found.get(key, 0.0))
    if not found:
        return
    blocked = [(f.start, f.end) for f in find_cards(text)]
    blocked += [(f.start, f.end) for f in find_ibans(text)]
    for start, end, entity in sorted(found):
        if not _overlaps(blocked, start, end):
            yield PiiFinding(entity, start, end, found[start, end, entity])
