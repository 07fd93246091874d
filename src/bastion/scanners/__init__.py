"""Scanners: the checks every prompt and response passes through.

Build a :class:`Pipeline` from a policy with :func:`build_pipeline` and a
:class:`ScannerRegistry` (:func:`default_registry` holds the built-ins), run it with
:meth:`Pipeline.run`, guard streamed output with :class:`StreamGuard`, and serve the
``bastion scan`` JSON-lines contract with :func:`scan_lines`.
"""

from bastion.scanners.base import (
    AsyncScanner,
    Decision,
    Finding,
    ScanContext,
    Scanner,
    ScanResult,
    Stage,
)
from bastion.scanners.batch import scan_lines
from bastion.scanners.canary import CanaryScanner, generate_canary
from bastion.scanners.invisible import InvisibleTextScanner
from bastion.scanners.leak import SystemPromptLeakScanner
from bastion.scanners.pipeline import Pipeline, Verdict, build_pipeline
from bastion.scanners.registry import ScannerFactory, ScannerRegistry, default_registry
from bastion.scanners.secrets import SecretsScanner
from bastion.scanners.size import PromptSizeScanner
from bastion.scanners.stream import StreamGuard

__all__ = [
    "AsyncScanner",
    "CanaryScanner",
    "Decision",
    "Finding",
    "InvisibleTextScanner",
    "Pipeline",
    "PromptSizeScanner",
    "ScanContext",
    "ScanResult",
    "Scanner",
    "ScannerFactory",
    "ScannerRegistry",
    "SecretsScanner",
    "Stage",
    "StreamGuard",
    "SystemPromptLeakScanner",
    "Verdict",
    "build_pipeline",
    "default_registry",
    "generate_canary",
    "scan_lines",
]
