"""What surrounds a street in an address (:mod:`bastion.dlp._address`): units, city,
state, codes and country after it; PO boxes and US military addresses; context phrases.
"""

from __future__ import annotations

import re

from bastion.dlp import _address_words as words

__all__ = ["MILITARY", "PO_BOX", "after_context", "continuation"]

_L, _UP, _CAP, _ORDINAL = words.LETTER, words.UPPER, words.CAPITALISED, words.ORDINAL


def _alternation(names: tuple[str, ...]) -> str:
    forms = {n for name in names for n in (name, name.upper())}
    return "|".join(re.escape(n) for n in sorted(forms, key=len, reverse=True))


_COUNTRY = rf"(?:{_alternation(words.COUNTRIES)})(?![\w.])"
_UNIT_WORD = "|".join(words.UNIT_WORDS)
_PARTICLE = "|".join(sorted(words.PARTICLES))

# Commas, or line breaks with the quote and list markers of emails and notes.
_SEP = re.compile(r"(?:[ \t]*(?:[,;]|\r?\n[ \t>|*?-]{0,8})){1,3}[ \t]{0,4}|[ \t]{1,4}")
_UNIT = re.compile(
    rf"(?:(?i:{_UNIT_WORD})\.?[ \t]?(?:#[ \t]?)?|#[ \t]?)"
    r"(?:\d{1,5}[A-Za-z]?|[A-Za-z]\d{0,4})(?![\w])"
    rf"|{_ORDINAL}[ \t]+(?i:floor)(?![\w])"
)
_COMMIT = re.compile(
    rf"{_COUNTRY}(?:[ \t]\({_L}{{2,20}}\))?(?:[ \t,]{{1,3}}\d{{4,6}}(?![\w-]))?"
    r"|[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}(?![\w])"  # UK postcode
    r"|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d(?![\w])"  # Canadian postal code
    r"|[A-Z]{2}[ \t]{1,2}\d{5}(?:-\d{4})?(?![\w-])"  # US state and ZIP
    # A ZIP or postcode, not the house number of a street on the next line.
    rf"|\d{{4,5}}(?:-\d{{3,4}})?(?![\w-])(?![ \t]{{1,3}}(?!{_COUNTRY})[{_UP}])"
)
_TENTATIVE = re.compile(
    rf"(?!(?i:{_UNIT_WORD})\b){_CAP}"
    rf"(?:[ \t](?!{_COUNTRY})(?:{_CAP}|(?:{_PARTICLE})(?![\w]))){{0,3}}"
    r"|[A-Z]{2,3}(?![\w])"
)

MILITARY = re.compile(
    r"(?i)\b(?:(?:PSC|CMR|Unit)[ \t]+\d{3,5}[ \t]*,?[ \t]+Box[ \t]+\d{1,5}"
    r"|(?:USNS|USNV|USS|USCGC)[ \t]+[^\W\d_][\w'’.-]{0,30}(?:[ \t]+[^\W\d_][\w'’.-]{0,30}){0,2})"
    r"[ \t]*(?:,[ \t]*|\r?\n[ \t>]{0,8}){0,2}[ADF]PO[ \t]+A[AEP][ \t]+\d{5}(?:-\d{4})?(?!\w)"
)
PO_BOX = re.compile(
    r"(?i)\b(?:P\.?[ \t]?O\.?[ \t]?Box|Post[ \t]?Office[ \t]+Box|Post[ \t]?box|Postfach"
    r"|Apartado(?:[ \t]+de[ \t]+Correos)?|Casilla(?:[ \t]+de[ \t]+Correo)?|Caixa[ \t]+Postal"
    r"|Boîte[ \t]+postale)[ \t]*(?:No\.?[ \t]*)?#?[ \t]?\d{1,6}(?![\w])"
)
_CONTEXT = re.compile(
    r"(?i)(?:\baddress(?:es)?\b(?:[^\n.:?!]{0,40}?\b(?:is|are|was|at|to)\b|[^\n.:?!]{0,30}?:)"
    r"|\b(?:live[sd]?|living|reside[sd]?|residing|located|situated|headquartered|based"
    r"|stay(?:s|ing)?)[ \t]+(?:at|on)\b"
    r"|\b(?:ship(?:ped)?|mail(?:ed)?|send|sent|deliver(?:ed)?|forward(?:ed)?|moved)\b"
    r"[^\n.?!]{0,30}?\bto\b|\bhome[ \t]*:)"
    r"[ \t]*:?\s{0,4}(?:the[ \t]+corner[ \t]+of[ \t]+)?\Z"
)
_CONTEXT_CHARS = 80


def continuation(text: str, pos: int) -> tuple[int, bool]:
    """End of the units, city, codes and country after ``pos``, and whether any unit,
    code or country was found (a city alone is not kept)."""
    end, found, pending, breaks = pos, False, 0, 0
    for _ in range(10):
        sep = _SEP.match(text, pos)
        if sep is None:
            break
        breaks += sep.group().count("\n")
        if breaks > 4:
            break
        at = sep.end()
        part = _UNIT.match(text, at) or _COMMIT.match(text, at)
        if part is not None:
            end = pos = part.end()
            found, pending = True, 0
            continue
        part = _TENTATIVE.match(text, at)
        if part is None or pending >= 3:
            break
        pos, pending = part.end(), pending + 1
    return end, found


def after_context(text: str, pos: int) -> bool:
    """Whether a context phrase ("lives at", "address:"...) ends right before ``pos``."""
    return _CONTEXT.search(text, max(0, pos - _CONTEXT_CHARS), pos) is not None
