"""Contact and network identifiers: email addresses, phone numbers, IP addresses."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

import phonenumbers

from bastion.dlp.entities import EntityType, PiiFinding

__all__ = ["find_emails", "find_ips", "find_phones"]

EMAIL_SCORE = 1.0
PHONE_SCORE = 0.85
PHONE_SHAPED_SCORE = 0.6
IP_SCORE = 0.9

_LENIENCY = phonenumbers.Leniency.POSSIBLE

# RFC 5322 dot-atom local part; domain of LDH labels ending in an alphabetic (or
# punycode) TLD, so ``user@localhost`` and ``a@10.0.0.1`` are not addresses.
_EMAIL = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~-])"
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{2,59})"
    r"(?![\w-])(?!\.[A-Za-z0-9])"
)


def find_emails(text: str) -> Iterator[PiiFinding]:
    """Email addresses (``local@domain.tld``)."""
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        if len(match.group()) <= 254:
            yield PiiFinding(EntityType.EMAIL_ADDRESS, match.start(), match.end(), EMAIL_SCORE)


# Seven digits with phone punctuation between them: without one, no phone number.
_PHONE_PRECHECK = re.compile(r"\d(?:[\s().\-/]{0,3}\d){6}")
# A number written as a phone number: groups of 2+ digits with separators (not a bare
# run like an order number, not ISBN-style single-digit groups).
_PHONE_GROUPED = re.compile(r"\(?\d{2,}\)?(?:(?:[ .\-]|\) ?)\(?\d{2,}\)?){2,}")
_DIGITS = re.compile(r"\d")
_EXTENSION = re.compile(r"(?i)\s*(?:x|ext\.?|extension)\s*\d+$")


# A phone word just before a number ("Mobile: 432 03 163", "call me on 450 0840") or a
# line label just after it ("781 1704 office", "28-64-66-98 fax"): then 7-15 digits in
# groups are a phone number even if no numbering plan knows them.
# Groups need a separator between them, so a digit run splits one way only (linear).
_PHONE_NUMBER = r"\+?\(?\d{1,15}\)?(?:[ .\-]\(?\d{1,15}\)?){0,6}"
_PHONE_BEFORE = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|fax|desk|whatsapp|call(?: me)?(?: on| at)?"
    r"|text me(?: on| at)?)\b[^\w\n]{0,4}"
    rf"(?P<number>{_PHONE_NUMBER})(?![\w.]\w)"
)
_PHONE_AFTER = re.compile(
    rf"(?<![\w.+\-])(?P<number>{_PHONE_NUMBER})"
    r"(?:[ \-]|\\?,)?(?i:office|fax|mobile|cell|home|work)\b"
)


def _phones_in_context(text: str) -> Iterator[PiiFinding]:
    for pattern in (_PHONE_BEFORE, _PHONE_AFTER):
        for match in pattern.finditer(text):
            start, end = match.span("number")
            if 7 <= len(_DIGITS.findall(text, start, end)) <= 15:
                yield PiiFinding(EntityType.PHONE_NUMBER, start, end, PHONE_SHAPED_SCORE)


def _phone_score(match: phonenumbers.PhoneNumberMatch) -> float | None:
    if phonenumbers.is_valid_number(match.number):
        return PHONE_SCORE
    raw = match.raw_string
    if raw.startswith("+"):
        return PHONE_SHAPED_SCORE
    number = _EXTENSION.sub("", raw)
    if len(_DIGITS.findall(number)) >= 10 and _PHONE_GROUPED.fullmatch(number) is not None:
        return PHONE_SHAPED_SCORE
    return None


# A UUID: its all-digit groups ("...-4450-9040-06a8...") are not a phone number.
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def _in_identifier(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(start < right and left < end for left, right in spans)


def find_phones(text: str, region: str) -> Iterator[PiiFinding]:
    """Phone numbers (libphonenumber's matcher): national numbers of ``region`` and
    international ones (``+``) of any country. A number valid under its numbering plan
    scores 0.85; one that only has a possible length scores 0.6 if written as a phone
    number: with ``+``, or 10+ digits in separated groups ("930.167.3943"), or 7-15
    digits right after a phone word ("Mobile:") or before a line label ("office")."""
    if _PHONE_PRECHECK.search(text) is None:
        return
    uuids = [m.span() for m in _UUID.finditer(text)] if "-" in text else []
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=_LENIENCY)
    for match in matcher:
        if match.start > 0 and text[match.start - 1].isalnum():
            continue  # the tail of a word or handle ("throwaway12313223123")
        if _in_identifier(uuids, match.start, match.end):
            continue
        score = _phone_score(match)
        if score is not None:
            yield PiiFinding(EntityType.PHONE_NUMBER, match.start, match.end, score)
    for found in _phones_in_context(text):
        if not _in_identifier(uuids, found.start, found.end):
            yield found


# Four dotted decimal octets, not inside a longer dotted run (versions, OIDs).
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w)(?!\.\d)")
# Hex groups and colons (at least two), optionally ending in an embedded IPv4 address.
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
    r"(?![\w:])(?!\.\d)"
)


def find_ips(text: str) -> Iterator[PiiFinding]:
    """IPv4 (dotted quad, no leading zeros) and IPv6 (full or compressed) addresses."""
    if "." in text:
        for match in _IPV4.finditer(text):
            try:
                ipaddress.IPv4Address(match.group())
            except ValueError:
                continue
            yield PiiFinding(EntityType.IP_ADDRESS, match.start(), match.end(), IP_SCORE)
    if "::" in text or text.count(":") >= 7:
        for match in _IPV6.finditer(text):
            value = match.group()
            # "dead::beef" is as likely an identifier as an address: a compressed form
            # needs a decimal digit.
            if "::" in value and not any(c.isdigit() for c in value):
                continue
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                continue
            yield PiiFinding(EntityType.IP_ADDRESS, match.start(), match.end(), IP_SCORE)
