"""Running a policy's scanners over a text and combining their results.

:func:`build_pipeline` instantiates every scanner of both stages once, at start-up,
so an unknown name or a bad option fails before the first request. :meth:`Pipeline.run`
runs one stage's scanners in policy order over the same original text:

* the strictest decision wins and a BLOCK stops the remaining scanners;
* it fails closed: a scanner that raises, returns something other than a
  :class:`ScanResult` or reports spans outside the text yields a BLOCK with reason
  ``scanner_error`` (the exception text is never copied: it may quote the input); an
  async scanner is bounded by ``asyncio.wait_for`` and a sync scanner whose run took
  longer than the budget is discarded, both as BLOCK ``scanner_timeout``;
* sync scanners run inline, with no task or thread, so the all-sync path stays cheap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from bastion.policy import Policy
from bastion.scanners.base import (
    AsyncScanner,
    Decision,
    Finding,
    ScanContext,
    Scanner,
    ScanResult,
    Stage,
)
from bastion.scanners.redact import redact
from bastion.scanners.registry import ScannerRegistry

# Texts at least this long are scanned off the event loop (about 2 ms of scanning).
OFFLOAD_CHARS = 8192

__all__ = ["Pipeline", "Verdict", "build_pipeline"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The combined outcome of one stage.

    ``results`` has one entry per scanner that ran (allows included); ``text`` is the
    scanned text with every REDACT span replaced by ``[REDACTED:<type>]`` (the
    original text when nothing was redacted); ``reasons`` are the reason codes of the
    non-allow results in order. ``text`` is left out of the repr.
    """

    decision: Decision
    score: float
    results: tuple[ScanResult, ...]
    text: str = field(repr=False)
    reasons: tuple[str, ...]

    @property
    def redactions(self) -> tuple[Finding, ...]:
        """The findings of REDACT results, that is the spans ``text`` replaced."""
        return tuple(f for r in self.results if r.decision is Decision.REDACT for f in r.findings)


def _failure(name: str, reason: str) -> ScanResult:
    return ScanResult(scanner=name, decision=Decision.BLOCK, score=1.0, reason=reason)


def _checked(name: str, result: object, length: int) -> ScanResult:
    """The scanner's result if well-formed, else a ``scanner_error`` block."""
    if not isinstance(result, ScanResult) or not isinstance(result.decision, Decision):
        return _failure(name, "scanner_error")
    for f in result.findings:
        if not (0 <= f.start <= f.end <= length):
            return _failure(name, "scanner_error")
    return result


class Pipeline:
    """Each stage's scanners, built once; see the module docstring for the rules."""

    def __init__(
        self,
        stages: dict[Stage, tuple[Scanner | AsyncScanner, ...]],
        *,
        timeout_s: float,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        self._stages = {stage: tuple(stages.get(stage, ())) for stage in Stage}
        # Resolved once: a runtime Protocol check per call would cost microseconds.
        self._plans = {
            stage: tuple((s, isinstance(s, Scanner)) for s in scanners)
            for stage, scanners in self._stages.items()
        }
        self.timeout_s = timeout_s
        self._clock = clock

    def __repr__(self) -> str:
        names = {s.value: [x.name for x in scanners] for s, scanners in self._stages.items()}
        return f"Pipeline(stages={names!r}, timeout_s={self.timeout_s})"

    def scanners(self, stage: Stage) -> tuple[Scanner | AsyncScanner, ...]:
        return self._stages[stage]

    def max_match_chars(self, stage: Stage) -> int:
        """The longest span any scanner of ``stage`` declares (0 when none declares)."""
        sizes = [getattr(s, "max_match_chars", 0) for s in self._stages[stage]]
        return max([size for size in sizes if isinstance(size, int)] or [0])

    async def run(self, stage: Stage, text: str, context: ScanContext) -> Verdict:
        results: list[ScanResult] = []
        for scanner, is_sync in self._plans[stage]:
            if is_sync and len(text) >= OFFLOAD_CHARS:
                # Long texts (documents, tool results) would hold the event loop for
                # milliseconds: scan them on a worker thread so other requests go on.
                sync = cast(Scanner, scanner)
                result = await asyncio.to_thread(self._run_sync, sync, text, context)
            elif is_sync:
                result = self._run_sync(cast(Scanner, scanner), text, context)
            else:
                result = await self._run_async(cast(AsyncScanner, scanner), text, context)
            results.append(result)
            if result.decision is Decision.BLOCK:
                break
        return _combine(text, results)

    def _run_sync(self, scanner: Scanner, text: str, context: ScanContext) -> ScanResult:
        started = self._clock()
        try:
            result = scanner.scan(text, context)
        except Exception as exc:
            _log_failure(scanner.name, exc)
            return _failure(scanner.name, "scanner_error")
        if self._clock() - started > self.timeout_s:
            return _failure(scanner.name, "scanner_timeout")
        return _checked(scanner.name, result, len(text))

    async def _run_async(
        self, scanner: AsyncScanner, text: str, context: ScanContext
    ) -> ScanResult:
        try:
            result = await asyncio.wait_for(scanner.ascan(text, context), self.timeout_s)
        except TimeoutError:
            return _failure(scanner.name, "scanner_timeout")
        except Exception as exc:
            _log_failure(scanner.name, exc)
            return _failure(scanner.name, "scanner_error")
        return _checked(scanner.name, result, len(text))


def _log_failure(scanner: str, exc: Exception) -> None:
    # The exception's type only: its message may quote the scanned text.
    logging.getLogger("bastion.scanners").error(
        "scanner failed; request blocked scanner=%s error=%s", scanner, type(exc).__name__
    )


def _combine(text: str, results: list[ScanResult]) -> Verdict:
    decision = max((r.decision for r in results), default=Decision.ALLOW)
    score = max((r.score for r in results), default=0.0)
    redactions = [f for r in results if r.decision is Decision.REDACT for f in r.findings]
    return Verdict(
        decision=decision,
        score=score,
        results=tuple(results),
        text=redact(text, redactions) if redactions else text,
        reasons=tuple(r.reason for r in results if r.decision is not Decision.ALLOW),
    )


def build_pipeline(
    policy: Policy,
    registry: ScannerRegistry,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> Pipeline:
    """Instantiate every scanner named by ``policy`` once; unknown names raise ValueError."""
    stages = {
        Stage.INPUT: tuple(registry.create(n, policy.options(n)) for n in policy.input),
        Stage.OUTPUT: tuple(registry.create(n, policy.options(n)) for n in policy.output),
    }
    return Pipeline(stages, timeout_s=policy.scanner_timeout_ms / 1000.0, clock=clock)
