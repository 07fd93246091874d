"""The public surface of ``bastion.scanners`` is deliberate and pinned."""

from __future__ import annotations

import bastion.scanners
from bastion.scanners import Verdict


def test_public_names_are_pinned_and_sorted() -> None:
    """__all__ is sorted and lists exactly the intended names."""
    names = bastion.scanners.__all__
    assert names == sorted(names)
    assert set(names) == {
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
    }
    assert all(hasattr(bastion.scanners, name) for name in names)


def test_verdict_repr_hides_text() -> None:
    """A verdict's repr never shows the scanned text."""
    verdict = Verdict(
        decision=bastion.scanners.Decision.ALLOW,
        score=0.0,
        results=(),
        text="TOPSECRET",
        reasons=(),
    )
    assert "TOPSECRET" not in repr(verdict)
