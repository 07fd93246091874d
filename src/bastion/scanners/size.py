"""``prompt_size``: block a prompt longer than ``max_chars`` characters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bastion.scanners._options import check_keys, int_option
from bastion.scanners.base import Decision, Finding, ScanContext, ScanResult

__all__ = ["PromptSizeScanner"]


class PromptSizeScanner:
    """Blocks text longer than ``max_chars`` (default 32000) with ``prompt_too_large``.

    The finding spans the characters beyond the limit. Meant for the input stage: a
    stream guard scans windows, so this scanner never fires on streamed output.
    """

    name = "prompt_size"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        opts = options or {}
        check_keys(self.name, opts, ("max_chars",))
        self.max_chars = int_option(self.name, opts, "max_chars", 32000, minimum=1)

    def __repr__(self) -> str:
        return f"PromptSizeScanner(max_chars={self.max_chars})"

    def scan(self, text: str, context: ScanContext) -> ScanResult:
        if len(text) <= self.max_chars:
            return ScanResult.allow(self.name)
        return ScanResult(
            scanner=self.name,
            decision=Decision.BLOCK,
            score=1.0,
            reason="prompt_too_large",
            findings=(Finding("prompt_too_large", self.max_chars, len(text)),),
        )
