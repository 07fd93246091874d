"""Evaluating detectors on labeled public data: datasets, metrics, runs.

Used by ``bastion eval injection`` and ``bench/injection_latency.py``; definitions of
every metric are in :mod:`bastion.evaluation.metrics`.
"""

from bastion.evaluation.datasets import (
    GROUPS,
    PRESETS,
    Dataset,
    DatasetError,
    Example,
    Label,
    load_file,
    resolve,
)
from bastion.evaluation.metrics import Confusion, percentile, recall_at_fpr
from bastion.evaluation.runner import (
    DatasetScores,
    Scorer,
    Summary,
    decision_threshold,
    injection_scorer,
    score_dataset,
    summarise,
)

__all__ = [
    "GROUPS",
    "PRESETS",
    "Confusion",
    "Dataset",
    "DatasetError",
    "DatasetScores",
    "Example",
    "Label",
    "Scorer",
    "Summary",
    "decision_threshold",
    "injection_scorer",
    "load_file",
    "percentile",
    "recall_at_fpr",
    "resolve",
    "score_dataset",
    "summarise",
]
