"""Score datasets with a detector and summarise them (:mod:`.metrics` has the definitions).

:func:`injection_scorer` builds the detector ``bastion eval injection`` and the latency
benchmark measure: the full ``prompt_injection`` scanner from the default registry,
or, while that scanner is not registered, the bare :class:`InjectionModel`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bastion.evaluation.datasets import Dataset
from bastion.evaluation.metrics import Confusion, percentile, recall_at_fpr

__all__ = [
    "DatasetScores",
    "Scorer",
    "Summary",
    "decision_threshold",
    "injection_scorer",
    "score_dataset",
    "summarise",
]

Scorer = Callable[[str], float]
SCANNER_NAME = "prompt_injection"


def injection_scorer(role: str = "user") -> tuple[Scorer, str]:
    """``(scorer, description)``: the full scanner's ``ScanResult.score`` when registered,
    else the bare model's calibrated score (the description says which).

    ``role`` is the message role the scanner is told the text has: ``user`` (the
    direct-injection profile) or a role the scanner treats as untrusted content, such
    as ``document`` or ``tool`` (the indirect profile)."""
    from bastion.scanners import ScanContext, Stage, default_registry

    registry = default_registry()
    if SCANNER_NAME in registry:
        scanner: Any = registry.create(SCANNER_NAME, {})
        context = ScanContext(stage=Stage.INPUT, role=role)
        profile = f"role {role!r}"
        if hasattr(scanner, "scan"):

            def scan(text: str) -> float:
                return float(scanner.scan(text, context).score)

            return scan, f"scanner {SCANNER_NAME!r} (default registry, default options, {profile})"

        def ascan(text: str) -> float:
            return float(asyncio.run(scanner.ascan(text, context)).score)

        return ascan, (
            f"async scanner {SCANNER_NAME!r} (default registry, default options, {profile})"
        )

    from bastion.scanners.injection.model import InjectionModel

    model = InjectionModel.load_default()
    note = (
        f"note: scanner {SCANNER_NAME!r} is not registered; scoring with the bare "
        f"InjectionModel {model.version} ({model.sha256[:12]})"
    )
    return model.score, note


def decision_threshold(role: str = "user") -> float:
    """The score at which the default ``prompt_injection`` scanner blocks text of
    ``role``: its ``threshold`` for the direct profile, ``indirect_threshold`` for
    untrusted content (0.5 when the scanner is not registered: the bare model)."""
    from bastion.scanners import default_registry
    from bastion.scanners.injection.scanner import INDIRECT_ROLES

    registry = default_registry()
    if SCANNER_NAME not in registry:
        return 0.5
    scanner: Any = registry.create(SCANNER_NAME, {})
    chosen = scanner.indirect_threshold if role in INDIRECT_ROLES else scanner.threshold
    return float(chosen)


@dataclass(frozen=True, slots=True)
class DatasetScores:
    name: str
    attack_scores: tuple[float, ...]
    benign_scores: tuple[float, ...]
    latencies_ms: tuple[float, ...]


def score_dataset(dataset: Dataset, scorer: Scorer) -> DatasetScores:
    attacks: list[float] = []
    benign: list[float] = []
    latencies: list[float] = []
    clock = time.perf_counter_ns
    for example in dataset.examples:
        start = clock()
        score = scorer(example.text)
        latencies.append((clock() - start) / 1e6)
        (attacks if example.label == "attack" else benign).append(score)
    return DatasetScores(dataset.name, tuple(attacks), tuple(benign), tuple(latencies))


@dataclass(frozen=True, slots=True)
class Summary:
    name: str
    items: int
    attacks: int
    benign: int
    threshold: float
    confusion: Confusion
    recall_at_1pct_fpr: float | None
    threshold_at_1pct_fpr: float | None
    p50_ms: float | None
    p99_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        c = self.confusion
        return {
            "dataset": self.name,
            "items": self.items,
            "attacks": self.attacks,
            "benign": self.benign,
            "threshold": self.threshold,
            "tp": c.tp,
            "fp": c.fp,
            "tn": c.tn,
            "fn": c.fn,
            "precision": c.precision,
            "recall": c.recall,
            "f1": c.f1,
            "fpr": c.fpr,
            "recall_at_1pct_fpr": self.recall_at_1pct_fpr,
            "threshold_at_1pct_fpr": self.threshold_at_1pct_fpr,
            "latency_p50_ms": self.p50_ms,
            "latency_p99_ms": self.p99_ms,
        }


def summarise(
    scores: Sequence[DatasetScores], threshold: float, pooled_benign: Sequence[float]
) -> list[Summary]:
    """One summary per dataset and a final ``overall`` over all of them. Recall at
    FPR <= 1% uses ``pooled_benign`` (every benign score of the run) for every row."""
    rows = [*scores]
    if len(scores) > 1:
        rows.append(
            DatasetScores(
                "overall",
                tuple(s for d in scores for s in d.attack_scores),
                tuple(s for d in scores for s in d.benign_scores),
                tuple(t for d in scores for t in d.latencies_ms),
            )
        )
    out = []
    for row in rows:
        recall, t_star = recall_at_fpr(row.attack_scores, pooled_benign)
        out.append(
            Summary(
                name=row.name,
                items=len(row.latencies_ms),
                attacks=len(row.attack_scores),
                benign=len(row.benign_scores),
                threshold=threshold,
                confusion=Confusion.at(row.attack_scores, row.benign_scores, threshold),
                recall_at_1pct_fpr=recall,
                threshold_at_1pct_fpr=t_star,
                p50_ms=percentile(row.latencies_ms, 50),
                p99_ms=percentile(row.latencies_ms, 99),
            )
        )
    return out
