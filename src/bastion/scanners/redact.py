"""Applying REDACT spans: merge overlaps, replace each with ``[REDACTED:<type>]`` (or delete)."""

from __future__ import annotations

from collections.abc import Iterable

from bastion.scanners.base import Finding

__all__ = ["merge_spans", "redact"]


def merge_spans(findings: Iterable[Finding]) -> list[tuple[int, int, str]]:
    """Sorted, non-overlapping ``(start, end, replacement)``; an overlap keeps the first.

    Overlapping spans merge into one; the merged span gets a marker unless every span
    in it asked to be deleted.
    """
    merged: list[tuple[int, int, str]] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if f.end <= f.start:
            continue
        marker = f"[REDACTED:{f.type}]" if f.replacement is None else f.replacement
        if merged and f.start < merged[-1][1]:
            start, end, kept = merged[-1]
            merged[-1] = (start, max(end, f.end), kept or marker)
        else:
            merged.append((f.start, f.end, marker))
    return merged


def redact(
    text: str, findings: Iterable[Finding], *, start: int = 0, end: int | None = None
) -> str:
    """``text[start:end]`` with every finding's span replaced by its marker.

    Spans are clipped to ``[start, end)``, which is how a stream guard redacts the
    slice it releases.
    """
    stop = len(text) if end is None else end
    out: list[str] = []
    pos = start
    for s, e, marker in merge_spans(findings):
        s, e = max(s, start), min(e, stop)
        if e <= s:
            continue
        out.append(text[pos:s])
        out.append(marker)
        pos = e
    out.append(text[pos:stop])
    return "".join(out)
