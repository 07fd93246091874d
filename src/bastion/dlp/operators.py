"""What to do with a detected entity, kept apart from detecting it.

:func:`apply` rewrites a text given its findings and an :class:`Action` per finding:

- ``allow``: left as it is;
- ``mask``: every letter and digit but the last four becomes ``*`` (separators kept,
  so ``4111 1111 1111 1111`` reads ``**** **** **** 1111``); values of eight or fewer
  letters and digits are masked whole;
- ``redact``: replaced by ``[REDACTED:<TYPE>]``;
- ``hash``: replaced by ``<TYPE:h>`` with ``h`` the first 16 hex digits of
  HMAC-SHA256 of the value under a key the caller supplies (a tenant secret: equal
  values give equal tokens within a tenant, and nobody without the key can test a
  guess);
- ``pseudonymize``: replaced by a typed placeholder ``<EMAIL_1>``, the same value
  always by the same placeholder; the :class:`Pseudonyms` map carries the numbering
  across calls (a conversation) and :func:`restore` puts the originals back;
- ``block``: not a rewrite: :func:`apply` reports it, and the caller refuses the text.

Findings are applied right to left, so spans stay valid; overlapping findings must be
resolved first (the detector does). Nothing here logs or puts a value in an error.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise

from bastion.dlp.entities import EntityType, PiiFinding

__all__ = [
    "Action",
    "Pseudonyms",
    "Rewrite",
    "StreamRestorer",
    "apply",
    "mask",
    "replace_value",
    "restore",
]

# Placeholder labels: short, and readable by a model (<EMAIL_1>, <CARD_2>); capital
# letters only, at most eight (what a stream holds back as a possible cut placeholder).
_LABELS: Mapping[EntityType, str] = {
    EntityType.EMAIL_ADDRESS: "EMAIL",
    EntityType.PHONE_NUMBER: "PHONE",
    EntityType.CREDIT_CARD: "CARD",
    EntityType.IBAN_CODE: "IBAN",
    EntityType.US_SSN: "SSN",
    EntityType.IP_ADDRESS: "IP",
    EntityType.DATE_OF_BIRTH: "DOB",
    EntityType.STREET_ADDRESS: "ADDRESS",
    EntityType.PERSON: "PERSON",
    EntityType.SECRET: "SECRET",
    EntityType.US_ITIN: "ITIN",
    EntityType.UK_NHS: "NHS",
    EntityType.ES_NIF: "NIF",
    EntityType.ES_NIE: "NIE",
    EntityType.IT_FISCAL_CODE: "CODFISC",
    EntityType.IT_VAT_CODE: "VAT",
    EntityType.PL_PESEL: "PESEL",
    EntityType.FI_PERSONAL_IDENTITY_CODE: "HETU",
    EntityType.AU_ABN: "ABN",
    EntityType.AU_ACN: "ACN",
    EntityType.AU_TFN: "TFN",
    EntityType.IN_AADHAAR: "AADHAAR",
    EntityType.IN_PAN: "PAN",
    EntityType.KR_RRN: "RRN",
    EntityType.DE_TAX_ID: "TAXID",
    EntityType.FR_NIR: "NIR",
    EntityType.NL_BSN: "BSN",
    EntityType.CA_SIN: "SIN",
    EntityType.BR_CPF: "CPF",
    EntityType.SE_PERSONAL_NUMBER: "PERSNR",
    EntityType.DK_CPR: "CPR",
    EntityType.NO_BIRTH_NUMBER: "FNR",
    EntityType.BE_NATIONAL_NUMBER: "NRN",
    EntityType.EU_VAT: "VAT",
    EntityType.ABA_ROUTING_NUMBER: "ROUTING",
}
_PLACEHOLDER_RE = re.compile(r"<([A-Z]+)_([1-9][0-9]{0,5})>")
# The end of a text that may be the start of a placeholder cut by a chunk boundary.
_PARTIAL_RE = re.compile(r"<[A-Z]{0,8}(?:_[0-9]{0,6})?\Z")
_KEEP = 4


class Action(StrEnum):
    ALLOW = "allow"
    MASK = "mask"
    REDACT = "redact"
    HASH = "hash"
    PSEUDONYMIZE = "pseudonymize"
    BLOCK = "block"


@dataclass(slots=True)
class Pseudonyms:
    """Placeholder <-> original for one conversation. Mutable: :func:`apply` adds to it.
    The repr shows counts only; the originals are personal data."""

    by_value: dict[tuple[EntityType, str], str] = field(default_factory=dict)
    by_placeholder: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Pseudonyms(entries={len(self.by_placeholder)})"

    def placeholder(self, kind: EntityType, value: str, avoid: str = "") -> str:
        """The placeholder of ``value``: the one issued before, or the next free number
        of its label that does not already occur in ``avoid`` (the text being
        rewritten), so :func:`restore` cannot mistake the text's own words for one."""
        found = self.by_value.get((kind, value))
        if found is not None:
            return found
        label = _LABELS[kind]
        number = self.counts.get(label, 0) + 1
        while f"<{label}_{number}>" in avoid:
            number += 1
        self.counts[label] = number
        placeholder = f"<{label}_{number}>"
        self.by_value[kind, value] = placeholder
        self.by_placeholder[placeholder] = value
        return placeholder


@dataclass(frozen=True, slots=True)
class Rewrite:
    """The rewritten text, and whether a finding's action was ``block`` (then the text
    must not be sent; ``text`` is still the rewrite of every other finding)."""

    text: str = field(repr=False)
    blocked: tuple[EntityType, ...] = ()
    changed: int = 0


def mask(value: str) -> str:
    """``value`` with every letter and digit starred but the last four, which are kept
    only when the value has more than eight letters, digits and stars (a card, an IBAN,
    a phone number, an SSN; a short value is starred whole). Idempotent: a star is
    neither a letter nor a digit, and stars count towards the length, so a masked value
    keeps the same four."""
    size = sum(1 for char in value if char.isalnum() or char == "*")
    keep = _KEEP if size > 2 * _KEEP else 0
    out: list[str] = []
    for char in reversed(value):
        if char.isalnum():
            if keep:
                keep -= 1
                out.append(char)
            else:
                out.append("*")
        else:
            out.append(char)
    return "".join(reversed(out))


def _hashed(kind: EntityType, value: str, key: bytes) -> str:
    digest = hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return f"<{kind}:{digest[:16]}>"


def replace_value(
    action: Action,
    kind: EntityType,
    value: str,
    text: str,
    *,
    pseudonyms: Pseudonyms | None = None,
    hash_key: bytes | None = None,
) -> str:
    """What a rewriting action (mask, redact, hash, pseudonymize) puts in place of
    ``value``, a span of ``text``. Pseudonymize without a map, or hash without a key,
    redacts: the value never stays."""
    if action is Action.MASK:
        return mask(value)
    if action is Action.HASH and hash_key is not None:
        return _hashed(kind, value, hash_key)
    if action is Action.PSEUDONYMIZE and pseudonyms is not None:
        return pseudonyms.placeholder(kind, value, text)
    return f"[REDACTED:{kind}]"


def apply(
    text: str,
    findings: Sequence[PiiFinding],
    actions: Mapping[EntityType, Action],
    *,
    pseudonyms: Pseudonyms | None = None,
    hash_key: bytes | None = None,
    default: Action = Action.REDACT,
) -> Rewrite:
    """Rewrite ``text``: each finding by the action of its type (``default`` for types
    not in ``actions``). ``pseudonymize`` needs ``pseudonyms``, ``hash`` a ``hash_key``
    of at least 16 bytes; a missing one is a ValueError before anything is rewritten."""
    used = {actions.get(f.type, default) for f in findings}
    if Action.PSEUDONYMIZE in used and pseudonyms is None:
        raise ValueError("pseudonymize needs a Pseudonyms map")
    if Action.HASH in used and (hash_key is None or len(hash_key) < 16):
        raise ValueError("hash needs a key of at least 16 bytes")
    ordered = sorted(findings, key=lambda f: (f.start, f.end))
    for before, after in pairwise(ordered):
        if after.start < before.end:
            raise ValueError("findings overlap; resolve them before applying actions")
    blocked: list[EntityType] = []
    parts: list[str] = []
    cursor = len(text)
    changed = 0
    for finding in reversed(ordered):
        if finding.end > len(text):
            raise ValueError("a finding lies outside the text")
        action = actions.get(finding.type, default)
        value = text[finding.start : finding.end]
        if action is Action.ALLOW:
            continue
        if action is Action.BLOCK:
            blocked.append(finding.type)
            continue
        replacement = replace_value(
            action, finding.type, value, text, pseudonyms=pseudonyms, hash_key=hash_key
        )
        parts.append(text[finding.end : cursor])
        parts.append(replacement)
        cursor = finding.start
        changed += 1
    parts.append(text[:cursor])
    return Rewrite("".join(reversed(parts)), tuple(reversed(blocked)), changed)


def restore(
    text: str, pseudonyms: Pseudonyms, *, escape: Callable[[str], str] | None = None
) -> str:
    """``text`` with every placeholder of ``pseudonyms`` replaced by its original
    (through ``escape`` when given, e.g. for a JSON string). Only exact placeholders
    this map issued are restored; anything else that looks like one (a model's
    invention) is left as it is."""
    if "<" not in text or not pseudonyms.by_placeholder:
        return text
    known = pseudonyms.by_placeholder

    def original(match: re.Match[str]) -> str:
        value = known.get(match.group())
        if value is None:
            return match.group()
        return escape(value) if escape is not None else value

    return _PLACEHOLDER_RE.sub(original, text)


class StreamRestorer:
    """:func:`restore` over a stream: a chunk that ends inside what may be a placeholder
    (``... <EMA``) is held back until the rest arrives, at most 16 characters."""

    __slots__ = ("_held", "_pseudonyms")

    def __init__(self, pseudonyms: Pseudonyms) -> None:
        self._pseudonyms = pseudonyms
        self._held = ""

    def __repr__(self) -> str:
        return f"StreamRestorer(held={len(self._held)})"

    def feed(self, text: str) -> str:
        """The restored text that can be released after ``text``."""
        text = self._held + text
        partial = _PARTIAL_RE.search(text, max(0, len(text) - 16))
        cut = partial.start() if partial is not None else len(text)
        self._held = text[cut:]
        return restore(text[:cut], self._pseudonyms)

    def finish(self) -> str:
        """Whatever is still held, restored."""
        rest, self._held = self._held, ""
        return restore(rest, self._pseudonyms)
