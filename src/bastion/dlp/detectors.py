"""Structured personal data: deterministic patterns with validation, no model.

:class:`PiiDetector` finds email addresses, phone numbers (libphonenumber), payment
cards (IIN + Luhn), IBANs (mod 97 + country layout), US SSNs (SSA rules), IPv4/IPv6
addresses, dates of birth (a valid date after a birth context word), street addresses
(``_address``) and 25 national, tax and business identifiers checked by python-stdnum
(``_national``). Each type has a cheap precheck so text without, say, seven digits
never reaches the phone matcher.

Scores: 1.0 for emails and checksum-validated cards and IBANs; 0.9 for dashed SSNs and
IP addresses; 0.85 for valid phone numbers; 0.8 for space-separated SSNs and dates of birth;
0.7 for bare nine-digit SSNs (which need a context word); 0.85 for Luhn-valid cards
outside the IIN table right after a card word; 0.6 for phone-shaped numbers that are
not valid under their numbering plan; 0.6-0.9 for street addresses (more parts found,
higher); 0.7-0.95 for national identifiers (0.95 after their context word).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable

import phonenumbers

from bastion.dlp._address import find_addresses
from bastion.dlp._dates import find_dates_of_birth
from bastion.dlp._names import NameDetector
from bastion.dlp._national import NATIONAL_ENTITIES, find_national_ids
from bastion.dlp._network import find_emails, find_ips, find_phones
from bastion.dlp._numbers import find_cards, find_ibans, find_ssns
from bastion.dlp.entities import EntityType, PiiFinding

__all__ = ["SUPPORTED_ENTITIES", "PiiDetector"]

SUPPORTED_ENTITIES: frozenset[EntityType] = frozenset(
    {
        EntityType.EMAIL_ADDRESS,
        EntityType.PHONE_NUMBER,
        EntityType.CREDIT_CARD,
        EntityType.IBAN_CODE,
        EntityType.US_SSN,
        EntityType.IP_ADDRESS,
        EntityType.DATE_OF_BIRTH,
        EntityType.STREET_ADDRESS,
        *NATIONAL_ENTITIES,
    }
)
"""The types :class:`PiiDetector` finds by pattern and checksum (person names need the
``ner`` extra, see :mod:`bastion.dlp._names`; secrets are the ``secrets`` scanner's)."""

_DIGIT = re.compile(r"\d")

# The order of ``PiiDetector.entities`` (and its repr); findings are ranked by score
# and span length, never by this order.
_ORDER = (
    EntityType.CREDIT_CARD,
    EntityType.IBAN_CODE,
    EntityType.EMAIL_ADDRESS,
    EntityType.US_SSN,
    EntityType.IP_ADDRESS,
    EntityType.PHONE_NUMBER,
    EntityType.DATE_OF_BIRTH,
    EntityType.STREET_ADDRESS,
    *sorted(NATIONAL_ENTITIES),
    EntityType.PERSON,
)


class PiiDetector:
    """Finds structured personal data in text.

    ``entities`` limits the types (default: all of :data:`SUPPORTED_ENTITIES`, plus
    ``PERSON`` with ``names``; an unsupported type is a :class:`ValueError`).
    ``default_region`` is the ISO 3166 country whose national phone numbers are
    recognised without a ``+`` prefix. ``names`` (the ``ner`` extra) finds person names.
    """

    __slots__ = ("_digit_free", "_finders", "default_region", "entities")

    def __init__(
        self,
        entities: Iterable[EntityType] | None = None,
        *,
        default_region: str = "US",
        names: NameDetector | None = None,
    ) -> None:
        supported = SUPPORTED_ENTITIES | ({EntityType.PERSON} if names is not None else set())
        wanted = supported if entities is None else frozenset(map(EntityType, entities))
        unsupported = wanted - supported
        if unsupported:
            listed = ", ".join(sorted(unsupported))
            raise ValueError(f"PiiDetector does not detect {listed}")
        region = default_region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {default_region!r}")
        self.entities: tuple[EntityType, ...] = tuple(t for t in _ORDER if t in wanted)
        self.default_region = region
        by_pattern = [t for t in self.entities if t in SUPPORTED_ENTITIES]
        finders = [self._finder(t) for t in by_pattern if t not in NATIONAL_ENTITIES]
        national = frozenset(t for t in self.entities if t in NATIONAL_ENTITIES)
        if national:
            # One pass over the text for every national type wanted.
            finders.append(lambda text: find_national_ids(text, national))
        # Every type but emails and names holds a digit: text without one (most prose)
        # needs only these.
        digit_free: list[Callable[[str], Iterable[PiiFinding]]] = []
        if EntityType.EMAIL_ADDRESS in wanted:
            digit_free.append(find_emails)
        if names is not None and EntityType.PERSON in wanted:
            finders.append(names.find)
            digit_free.append(names.find)
        self._finders: tuple[Callable[[str], Iterable[PiiFinding]], ...] = tuple(finders)
        self._digit_free: tuple[Callable[[str], Iterable[PiiFinding]], ...] = tuple(digit_free)

    def __repr__(self) -> str:
        names = ", ".join(str(t) for t in self.entities)
        return f"PiiDetector(entities=[{names}], default_region={self.default_region!r})"

    def _finder(self, entity: EntityType) -> Callable[[str], Iterable[PiiFinding]]:
        if entity is EntityType.PHONE_NUMBER:
            region = self.default_region
            return lambda text: find_phones(text, region)
        return {
            EntityType.EMAIL_ADDRESS: find_emails,
            EntityType.CREDIT_CARD: find_cards,
            EntityType.IBAN_CODE: find_ibans,
            EntityType.US_SSN: find_ssns,
            EntityType.IP_ADDRESS: find_ips,
            EntityType.DATE_OF_BIRTH: find_dates_of_birth,
            EntityType.STREET_ADDRESS: find_addresses,
        }[entity]

    def detect(self, text: str) -> list[PiiFinding]:
        """All findings in ``text``, sorted by ``(start, end, type)``, none overlapping."""
        if not text:
            return []
        found: list[PiiFinding] = []
        finders = self._finders if _DIGIT.search(text) is not None else self._digit_free
        for finder in finders:
            found.extend(finder(text))
        return resolve_overlaps(found)


def resolve_overlaps(findings: Iterable[PiiFinding]) -> list[PiiFinding]:
    """Keep, of overlapping findings, the higher score, then the longer span, then the
    earlier one; sorted by ``(start, end, type)``."""
    ranked = sorted(findings, key=lambda f: (-f.score, f.start - f.end, f.start, f.type))
    # Kept spans never overlap, so sorted by start they are sorted by end too: a new
    # span is free when it ends before its successor starts and starts after its
    # predecessor ends.
    starts: list[int] = []
    kept: list[PiiFinding] = []
    for finding in ranked:
        i = bisect_right(starts, finding.start)
        if i > 0 and kept[i - 1].end > finding.start:
            continue
        if i < len(kept) and kept[i].start < finding.end:
            continue
        starts.insert(i, finding.start)
        kept.insert(i, finding)
    kept.sort(key=lambda f: (f.start, f.end, f.type))
    return kept
