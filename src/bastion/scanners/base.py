"""The scanner contract: one Protocol, one typed result.

A scanner looks at one piece of text and returns a :class:`ScanResult`: a decision
(allow, redact or block), a score in [0, 1], a stable reason code and the spans it
found. Detection and action are separate: a scanner reports spans, the pipeline
decides what to do with them (see ``pipeline.py``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from bastion.dlp.operators import Pseudonyms

__all__ = [
    "AsyncScanner",
    "Decision",
    "Finding",
    "ScanContext",
    "ScanResult",
    "Scanner",
    "Stage",
]


class Decision(enum.IntEnum):
    """Ordered so that ``max()`` over decisions gives the strictest one."""

    ALLOW = 0
    REDACT = 1
    BLOCK = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class Stage(enum.StrEnum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True, slots=True)
class Finding:
    """One span a scanner found. ``start``/``end`` index the scanned text."""

    type: str
    start: int
    end: int
    score: float = 1.0
    # What a redaction puts in place of the span: None means ``[REDACTED:<type>]``;
    # "" deletes it (invisible characters carry no meaning to keep a marker for).
    replacement: str | None = None


@dataclass(frozen=True, slots=True)
class ScanResult:
    scanner: str
    decision: Decision
    score: float = 0.0
    reason: str = ""
    findings: tuple[Finding, ...] = ()

    @classmethod
    def allow(cls, scanner: str) -> ScanResult:
        return cls(scanner=scanner, decision=Decision.ALLOW)


@dataclass(frozen=True, slots=True)
class ScanContext:
    """What a scanner may know about the text besides the text itself.

    ``role`` is the message role (``user``, ``tool``, ``document``, ``assistant``...);
    ``secrets`` carries per-request values a scanner looks for, such as the canary.
    ``pseudonyms`` is the request's placeholder map (the ``pii`` scanner adds to it;
    the gateway restores the model's answer from it), None where nothing is restored.
    ``hash_key`` is the tenant's key for the ``hash`` action (None: hashing redacts).
    Never log a context: ``secrets`` holds values the model must not see echoed.
    """

    stage: Stage
    role: str = "user"
    request_id: str = ""
    tenant: str = ""
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    pseudonyms: Pseudonyms | None = field(default=None, repr=False, compare=False)
    hash_key: bytes | None = field(default=None, repr=False, compare=False)


@runtime_checkable
class Scanner(Protocol):
    """A synchronous, CPU-bound scanner. It must not keep state between calls."""

    name: str

    def scan(self, text: str, context: ScanContext) -> ScanResult: ...


@runtime_checkable
class AsyncScanner(Protocol):
    """A scanner that waits on I/O or a model; the pipeline bounds it with a timeout."""

    name: str

    async def ascan(self, text: str, context: ScanContext) -> ScanResult: ...
