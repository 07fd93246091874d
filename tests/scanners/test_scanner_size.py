"""The prompt-size scanner and the shared option validation."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.scanners import Decision, PromptSizeScanner, ScanContext, Stage

CTX = ScanContext(stage=Stage.INPUT)


def test_default_limit_is_32000_characters() -> None:
    """32000 characters pass, 32001 block with prompt_too_large."""
    scanner = PromptSizeScanner()
    assert scanner.scan("x" * 32000, CTX).decision is Decision.ALLOW
    result = scanner.scan("x" * 32001, CTX)
    assert (result.decision, result.reason) == (Decision.BLOCK, "prompt_too_large")
    assert (result.findings[0].start, result.findings[0].end) == (32000, 32001)


def test_limit_counts_characters_not_bytes() -> None:
    """Multi-byte characters count once."""
    assert PromptSizeScanner({"max_chars": 3}).scan("日本語", CTX).decision is Decision.ALLOW


@pytest.mark.parametrize("value", [0, -1, True, "10", 1.5, None])
def test_bad_max_chars_is_rejected(value: Any) -> None:
    """max_chars must be a positive integer; the error names the option."""
    with pytest.raises(ValueError, match="max_chars"):
        PromptSizeScanner({"max_chars": value})


def test_unknown_option_is_rejected() -> None:
    """A misspelt option fails instead of being ignored."""
    with pytest.raises(ValueError, match="max_char'"):
        PromptSizeScanner({"max_char": 10})
