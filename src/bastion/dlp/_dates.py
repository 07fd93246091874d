"""Dates of birth: a valid calendar date shortly after a birth context word."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator

from bastion.dlp.entities import EntityType, PiiFinding

__all__ = ["find_dates_of_birth"]

DOB_SCORE = 0.8

_CONTEXT = re.compile(
    r"(?i)(?<![a-z])(?:born|dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|birthday)(?![a-z])"
)
_CONTEXT_CHARS = 40
_MIN_YEAR = 1880
_MAX_YEAR = 2100

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORD = r"(?:st|nd|rd|th)?"
_DATE = re.compile(
    r"(?i)(?<![\w/.-])(?:"
    # 2024-03-12, 2024/3/12
    r"(?P<ymd_y>\d{4})(?P<ymd_s>[-/.])(?P<ymd_m>\d{1,2})(?P=ymd_s)(?P<ymd_d>\d{1,2})"
    # 12/03/1985, 3-12-85 (day and month in either order)
    r"|(?P<n_a>\d{1,2})(?P<n_s>[-/.])(?P<n_b>\d{1,2})(?P=n_s)(?P<n_y>\d{4}|\d{2})"
    # 12 March 1985, 12th of March, 1985, 12-Mar-1985
    rf"|(?P<dmy_d>\d{{1,2}}){_ORD}(?:\s+of)?[\s-]+(?P<dmy_m>{_MONTH}),?[\s-]+(?P<dmy_y>\d{{4}})"
    # March 12, 1985
    rf"|(?P<mdy_m>{_MONTH})\s+(?P<mdy_d>\d{{1,2}}){_ORD},?\s+(?P<mdy_y>\d{{4}})"
    r")(?![\w/-])(?!\.\d)"
)


def _valid(year: int, month: int, day: int) -> bool:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        return False
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def _year(text: str) -> int:
    # Two-digit years: 2000+ keeps leap years right (1900 and 2000 differ only at 00).
    return int(text) + 2000 if len(text) == 2 else int(text)


def _month(name: str) -> int:
    return _MONTHS[name[:3].lower()]


def _is_date(match: re.Match[str]) -> bool:
    g = match.group
    if g("ymd_y") is not None:
        return _valid(int(g("ymd_y")), int(g("ymd_m")), int(g("ymd_d")))
    if g("n_y") is not None:
        year, a, b = _year(g("n_y")), int(g("n_a")), int(g("n_b"))
        return _valid(year, a, b) or _valid(year, b, a)
    if g("dmy_y") is not None:
        return _valid(int(g("dmy_y")), _month(g("dmy_m")), int(g("dmy_d")))
    return _valid(int(g("mdy_y")), _month(g("mdy_m")), int(g("mdy_d")))


def find_dates_of_birth(text: str) -> Iterator[PiiFinding]:
    """Dates (numeric y-m-d or d/m/y, or with a month name) starting at most ~40
    characters after "born", "DOB", "d.o.b.", "date of birth", "birthday"."""
    last_end = 0
    for context in _CONTEXT.finditer(text):
        pos = max(context.end(), last_end)
        limit = context.end() + _CONTEXT_CHARS
        while pos <= limit:
            match = _DATE.search(text, pos, limit + 80)
            if match is None or match.start() > limit:
                break
            pos = match.end()
            if _is_date(match):
                last_end = match.end()
                yield PiiFinding(EntityType.DATE_OF_BIRTH, match.start(), match.end(), DOB_SCORE)
                break
