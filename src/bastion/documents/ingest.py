"""Scanning a document's chunks before anything of it is stored.

A document is untrusted content: whoever wrote it may have planted instructions for
the model that will later read it. :func:`scan_chunks` runs the tenant's input
scanners over every chunk as ``role="untrusted"`` (the injection scanner's indirect
profile, stricter than for a user's own words):

* a BLOCK on any chunk quarantines the whole document: it is kept sealed for review
  and never retrieved. Scanning stops there, so the reasons are those found up to the
  first blocked chunk; the chunks are kept as uploaded. A security analyst may release
  it (``bastion.documents.review``): then exactly those chunks are retrieved, so a
  document flagged for a secret should be rejected and uploaded again without it;
* a scanner that fails or overruns its budget is a BLOCK already (the pipeline's
  ``scanner_error`` / ``scanner_timeout``); the pipeline itself failing quarantines
  with ``scan_error``: fail closed;
* a REDACT (a secret, personal data, per the tenant's policy) keeps the redacted text,
  so retrieval never hands a model what the scanners removed.

Reasons are ``<scanner>:<reason code>`` strings, never content.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import anyio.lowlevel

from bastion.scanners import Decision, Pipeline, ScanContext, Stage

__all__ = [
    "ACTIVE",
    "QUARANTINED",
    "REJECTED",
    "ROLLED_BACK",
    "SCAN_ERROR",
    "Scanned",
    "Status",
    "scan_chunks",
]

# A document is retrieved only while ``active``. ``quarantined``: flagged, kept for
# review; ``rejected``: a reviewer said no; ``rolled_back``: withdrawn by a rollback
# of its collection (bastion.feedback.versions), and back if rolled forward again.
Status = Literal["active", "quarantined", "rejected", "rolled_back"]
ACTIVE: Status = "active"
QUARANTINED: Status = "quarantined"
REJECTED: Status = "rejected"
ROLLED_BACK: Status = "rolled_back"
SCAN_ERROR = "scan_error"
_ROLE = "untrusted"

log = logging.getLogger("bastion.documents")


@dataclass(frozen=True, slots=True)
class Scanned:
    """The outcome of scanning a document: ``texts`` are the chunks to store (redacted
    where the scanners redacted; as uploaded when quarantined). Never in a repr."""

    status: Status
    reasons: tuple[str, ...]
    texts: tuple[str, ...] = field(repr=False)


async def scan_chunks(
    pipeline: Pipeline, chunks: Sequence[str], *, tenant_id: str, request_id: str = ""
) -> Scanned:
    """Scan each chunk on the input stage as untrusted content (see the module doc)."""
    context = ScanContext(stage=Stage.INPUT, role=_ROLE, request_id=request_id, tenant=tenant_id)
    reasons: list[str] = []
    texts: list[str] = []
    for chunk in chunks:
        try:
            verdict = await pipeline.run(Stage.INPUT, chunk, context)
        except Exception as exc:
            # The type only: an exception's message may quote the text.
            log.error("document scan failed; quarantined error=%s", type(exc).__name__)
            return Scanned(QUARANTINED, _unique([*reasons, SCAN_ERROR]), tuple(chunks))
        reasons.extend(
            f"{r.scanner}:{r.reason or r.decision.label}"
            for r in verdict.results
            if r.decision is not Decision.ALLOW
        )
        if verdict.decision is Decision.BLOCK:
            return Scanned(QUARANTINED, _unique(reasons), tuple(chunks))
        texts.append(verdict.text)
        # Sync scanners run inline: let other requests in between chunks.
        await anyio.lowlevel.checkpoint()
    return Scanned(ACTIVE, _unique(reasons), tuple(texts))


def _unique(reasons: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(reasons))
