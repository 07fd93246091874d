"""Anomaly detection on the audit stream: per-user baselines, deterministic alerts.

Feed exported audit records, in order, to a :class:`DetectionEngine`; it returns
:class:`Alert` objects (severity, subject, window, evidence hashes; never content).
See :mod:`bastion.detection.detectors` for what each detector looks for and why.
"""

from bastion.detection.baseline import MAX_EVIDENCE, Alert, DetectionConfig, Detector, Severity
from bastion.detection.detectors import (
    BoundaryProbing,
    DataTypeShift,
    DetectionEngine,
    InjectionRate,
    NewScope,
    QueryVolume,
    default_detectors,
)

__all__ = [
    "MAX_EVIDENCE",
    "Alert",
    "BoundaryProbing",
    "DataTypeShift",
    "DetectionConfig",
    "DetectionEngine",
    "Detector",
    "InjectionRate",
    "NewScope",
    "QueryVolume",
    "Severity",
    "default_detectors",
]
