"""Detection metrics over scored examples.

Definitions (an item is *flagged* when its score is ``>= threshold``):

- precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean,
  false-positive rate = FP / (FP + TN); ``None`` when the denominator is zero.
- recall at FPR <= ``max_fpr`` (default 1%): let ``k = floor(max_fpr * B)`` for ``B``
  benign scores and ``t*`` the (k+1)-th highest benign score; items are flagged when
  their score is strictly greater than ``t*``, so at most ``k`` benign items are
  flagged. The recall of the attacks at that threshold is reported with ``t*``. The
  benign scores are the ones the caller passes (the CLI pools every benign item of
  the run).
- latency p50/p99: nearest-rank percentiles of the per-item times.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Confusion", "percentile", "recall_at_fpr"]


@dataclass(frozen=True, slots=True)
class Confusion:
    tp: int
    fp: int
    tn: int
    fn: int

    @classmethod
    def at(
        cls, attack_scores: Sequence[float], benign_scores: Sequence[float], threshold: float
    ) -> Confusion:
        tp = sum(1 for s in attack_scores if s >= threshold)
        fp = sum(1 for s in benign_scores if s >= threshold)
        return cls(tp, fp, len(benign_scores) - fp, len(attack_scores) - tp)

    @property
    def precision(self) -> float | None:
        flagged = self.tp + self.fp
        return self.tp / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        attacks = self.tp + self.fn
        return self.tp / attacks if attacks else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None
        return 2 * p * r / (p + r)

    @property
    def fpr(self) -> float | None:
        benign = self.fp + self.tn
        return self.fp / benign if benign else None


def recall_at_fpr(
    attack_scores: Sequence[float], benign_scores: Sequence[float], max_fpr: float = 0.01
) -> tuple[float | None, float | None]:
    """``(recall, t*)``: the recall of items scoring above ``t*``, the lowest threshold
    whose false-positive rate on ``benign_scores`` is at most ``max_fpr``."""
    if not benign_scores:
        return None, None
    allowed = math.floor(max_fpr * len(benign_scores) + 1e-9)
    ordered = sorted(benign_scores, reverse=True)
    threshold = ordered[allowed] if allowed < len(ordered) else -math.inf
    if not attack_scores:
        return None, threshold
    hits = sum(1 for s in attack_scores if s > threshold)
    return hits / len(attack_scores), threshold


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile, ``q`` in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
