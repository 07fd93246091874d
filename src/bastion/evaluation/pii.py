"""Evaluating PII detection on span-labeled data (``bastion eval pii``).

Input: Presidio's labeled format, a JSON list (or JSON Lines) of objects with
``full_text`` and ``spans`` (``entity_type``, ``start_position``, ``end_position``),
as in presidio-research's synthetic set; ``text`` / ``start`` / ``end`` / ``type``
spellings are accepted too. Each span is checked against its text.

Per entity type (counts in a :class:`~bastion.evaluation.metrics.Confusion`, whose
true negatives are not defined here and left 0), a predicted span is a true positive
when it has the same type and matches a gold span one to one: **exact** (same start
and end) or **overlap** (at least one character in common). **cover** scores what DLP
needs, the values covered: a gold span is found when any finding of its type overlaps
it, and a finding is false when it overlaps no gold span of its type (one finding over
an address that the labels split into street, unit and ZIP finds all three). Only
types both produced by the detector and labeled somewhere in the data are scored: gold
spans of other
types are counted apart (never as misses), and so are findings of types the data
never labels (they cannot be judged: presidio-synth labels ``DATE_TIME``, not dates
of birth). Latency is per text, one thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bastion.evaluation.datasets import DatasetError
from bastion.evaluation.metrics import Confusion, percentile

__all__ = [
    "Detect",
    "LabeledText",
    "Match",
    "PiiReport",
    "Span",
    "evaluate_pii",
    "load_pii_file",
]

Span = tuple[str, int, int]  # (entity type, start, end)
Detect = Callable[[str], Iterable[Span]]
Match = Literal["exact", "overlap", "cover"]


@dataclass(frozen=True, slots=True)
class LabeledText:
    text: str
    spans: tuple[Span, ...] = field(repr=False)

    def __repr__(self) -> str:  # never print the text
        return f"LabeledText(chars={len(self.text)}, spans={len(self.spans)})"


@dataclass(frozen=True, slots=True)
class PiiReport:
    texts: int
    by_type: Mapping[str, Confusion]  # per type: tp, fp, fn (tn is not defined: 0)
    unsupported: Mapping[str, int]  # gold spans of types the detector does not produce
    latencies_ms: tuple[float, ...] = field(repr=False)
    unlabeled: Mapping[str, int] = field(default_factory=dict)  # findings of unlabeled types

    @property
    def overall(self) -> Confusion:
        """Micro-averaged: the types' counts summed."""
        scores = self.by_type.values()
        return Confusion(
            sum(s.tp for s in scores), sum(s.fp for s in scores), 0, sum(s.fn for s in scores)
        )

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float | None:
        return percentile(self.latencies_ms, 99)


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DatasetError(f"{where}: span offsets must be integers")
    return value


def _labeled(row: Any, where: str) -> LabeledText:
    if not isinstance(row, dict):
        raise DatasetError(f"{where}: each item must be an object")
    text = row.get("full_text", row.get("text"))
    if not isinstance(text, str):
        raise DatasetError(f"{where}: no 'full_text' or 'text' string")
    spans: list[Span] = []
    raw_spans = row.get("spans", [])
    if not isinstance(raw_spans, list):
        raise DatasetError(f"{where}: 'spans' must be a list")
    for i, span in enumerate(raw_spans):
        here = f"{where}, span {i}"
        if not isinstance(span, dict):
            raise DatasetError(f"{here}: must be an object")
        kind = span.get("entity_type", span.get("type"))
        start = _int(span.get("start_position", span.get("start")), here)
        end = _int(span.get("end_position", span.get("end")), here)
        if not isinstance(kind, str) or not kind:
            raise DatasetError(f"{here}: no entity type")
        if not 0 <= start < end <= len(text):
            raise DatasetError(f"{here}: offsets outside the text")
        spans.append((kind, start, end))
    return LabeledText(text, tuple(spans))


def load_pii_file(path: Path) -> list[LabeledText]:
    """The labeled texts of ``path`` (a JSON list, or JSON Lines); errors name the file
    and the item, never its text."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({type(exc).__name__})") from None
    try:
        data = json.loads(raw)
        rows = data if isinstance(data, list) else [data]
    except ValueError:
        try:
            rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
        except ValueError:
            raise DatasetError(f"{path}: neither a JSON list nor JSON Lines") from None
    return [_labeled(row, f"{path} item {i}") for i, row in enumerate(rows)]


def _overlap(a: Span, b: Span) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def _matches(gold: Sequence[Span], found: Sequence[Span], how: Match) -> int:
    """One-to-one matches between same-type spans (greedy, in order)."""
    used: set[int] = set()
    hits = 0
    for kind, start, end in found:
        for i, (g_kind, g_start, g_end) in enumerate(gold):
            if i in used or g_kind != kind:
                continue
            same = (start, end) == (g_start, g_end)
            if same or (how == "overlap" and _overlap((kind, start, end), gold[i])):
                used.add(i)
                hits += 1
                break
    return hits


def evaluate_pii(
    items: Sequence[LabeledText],
    detect: Detect,
    supported: Iterable[str],
    *,
    match: Match = "exact",
) -> PiiReport:
    """Score ``detect`` on ``items`` for the entity types in ``supported`` that the
    data labels."""
    labeled = {kind for item in items for kind, _, _ in item.spans}
    kinds = set(supported) & labeled
    counts: dict[str, list[int]] = {kind: [0, 0, 0] for kind in sorted(kinds)}  # tp, fp, fn
    unsupported: dict[str, int] = {}
    unlabeled: dict[str, int] = {}
    latencies: list[float] = []
    for item in items:
        started = time.perf_counter_ns()
        spans = list(detect(item.text))
        latencies.append((time.perf_counter_ns() - started) / 1e6)
        found = [span for span in spans if span[0] in kinds]
        for kind, _, _ in spans:
            if kind not in kinds:
                unlabeled[kind] = unlabeled.get(kind, 0) + 1
        gold = [span for span in item.spans if span[0] in kinds]
        for kind, _, _ in item.spans:
            if kind not in kinds:
                unsupported[kind] = unsupported.get(kind, 0) + 1
        for kind in kinds:
            g = [s for s in gold if s[0] == kind]
            f = [s for s in found if s[0] == kind]
            if not g and not f:
                continue
            tally = counts[kind]
            if match == "cover":
                covered = sum(any(_overlap(x, y) for y in f) for x in g)
                tally[0] += covered
                tally[1] += sum(not any(_overlap(y, x) for x in g) for y in f)
                tally[2] += len(g) - covered
                continue
            tp = _matches(g, f, match)
            tally[0] += tp
            tally[1] += len(f) - tp
            tally[2] += len(g) - tp
    return PiiReport(
        len(items),
        {kind: Confusion(tp, fp, 0, fn) for kind, (tp, fp, fn) in counts.items()},
        dict(sorted(unsupported.items())),
        tuple(latencies),
        dict(sorted(unlabeled.items())),
    )
