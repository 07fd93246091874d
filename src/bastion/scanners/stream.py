"""Guarding a streamed response one delta at a time.

A :class:`StreamGuard` (one per choice) buffers deltas and releases only text that
no longer can become part of a blocked or redacted match:

* After each delta it scans a window that starts ``holdback`` characters before the
  release point and ends at the end of the buffer, then releases up to
  ``len(buffer) - holdback``. A REDACT span crossing that point moves it back to the
  span's start, so a span is always released as one ``[REDACTED:<type>]`` marker.
* ``holdback`` must be at least the longest match any scanner can block, otherwise
  the start of a match could be released before its end arrives. The guard uses
  ``max(holdback, longest max_match_chars declared by the stage's scanners)``; the
  canary scanner, which also catches the canary spelled out with separators,
  declares a larger window than the policy default.
* With that, the text released never contains a character of a blocked match, a
  block is seen no later than on the delta that completes the match, and a stream
  that is never blocked or redacted is released unchanged.
* Each scan covers at most ``2 * holdback`` characters plus the delta and any text
  held behind an unfinished REDACT span, so the work per delta does not grow with
  the length of the response. Text held back for more than ``max_pending``
  characters (an endless span) fails closed with reason ``stream_holdback_exceeded``.

After a block, ``blocked`` is true, ``verdict`` is the blocking :class:`Verdict` and
``feed``/``finish`` return ``""``. For the audit log, ``results`` summarises the
stream: every distinct non-allow result with findings at absolute offsets of the
streamed text, and one allow result per scanner that never flagged anything;
``verdicts`` keeps each window's raw verdict (findings index the window, whose
absolute start is in ``offsets``).
"""

from __future__ import annotations

from dataclasses import replace

from bastion.scanners.base import Decision, Finding, ScanContext, ScanResult
from bastion.scanners.pipeline import Pipeline, Verdict
from bastion.scanners.redact import merge_spans, redact

__all__ = ["StreamGuard"]


class StreamGuard:
    """Releases a streamed text only once scanned; see the module docstring."""

    def __init__(
        self,
        pipeline: Pipeline,
        context: ScanContext,
        holdback: int,
        *,
        max_pending: int = 1 << 16,
    ) -> None:
        if holdback < 0:
            raise ValueError("holdback must be >= 0")
        self._pipeline = pipeline
        self._context = context
        self.holdback = max(holdback, pipeline.max_match_chars(context.stage))
        if max_pending <= self.holdback:
            raise ValueError("max_pending must be larger than the effective holdback")
        self.max_pending = max_pending
        self._buf = ""  # text from absolute offset self._base to the end
        self._base = 0
        self._released = 0  # absolute offset: everything before it was returned
        self._verdicts: list[Verdict] = []
        self._offsets: list[int] = []
        self._finished = False
        self.blocked = False
        self.verdict: Verdict | None = None

    def __repr__(self) -> str:
        return (
            f"StreamGuard(holdback={self.holdback}, released={self._released}, "
            f"blocked={self.blocked})"
        )

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        """Every window's verdict, in order."""
        return tuple(self._verdicts)

    @property
    def results(self) -> tuple[ScanResult, ...]:
        """Audit summary: distinct non-allow results (absolute spans), allows per scanner."""
        flagged: dict[ScanResult, None] = {}
        seen: dict[str, None] = {}
        for offset, verdict in zip(self._offsets, self._verdicts, strict=True):
            for result in verdict.results:
                seen.setdefault(result.scanner, None)
                if result.decision is not Decision.ALLOW:
                    flagged.setdefault(_shift(result, offset), None)
        if self.verdict is not None:
            for result in self.verdict.results:  # the overflow result has no window
                if result.decision is not Decision.ALLOW:
                    flagged.setdefault(_shift(result, self._offsets[-1]), None)
        flagged_names = {r.scanner for r in flagged}
        allows = [ScanResult.allow(n) for n in seen if n not in flagged_names]
        return (*allows, *flagged)

    @property
    def offsets(self) -> tuple[int, ...]:
        """The absolute start of the window each verdict in ``results`` scanned."""
        return tuple(self._offsets)

    async def feed(self, delta: str) -> str:
        """Add ``delta``; return the text that is now safe to send (maybe redacted)."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if self.blocked or not delta:
            return ""
        self._buf += delta
        return await self._step(final=False)

    async def finish(self) -> str:
        """Scan what is left and return it; the guard accepts no more deltas."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        if self.blocked:
            return ""
        return await self._step(final=True)

    async def _step(self, *, final: bool) -> str:
        end = self._base + len(self._buf)
        start = max(self._base, self._released - self.holdback)
        if start > self._base:
            self._buf = self._buf[start - self._base :]
            self._base = start
        verdict = await self._pipeline.run(self._context.stage, self._buf, self._context)
        self._verdicts.append(verdict)
        self._offsets.append(self._base)
        if verdict.decision is Decision.BLOCK:
            return self._block(verdict)
        target = end if final else end - self.holdback
        spans = merge_spans(verdict.redactions)
        for s, e, _ in spans:
            if self._base + s < target < self._base + e:
                target = self._base + s
        if target <= self._released:
            if end - self._released > self.max_pending:
                return self._block(_overflow(verdict))
            return ""
        out = redact(
            self._buf,
            verdict.redactions,
            start=self._released - self._base,
            end=target - self._base,
        )
        self._released = target
        return out

    def _block(self, verdict: Verdict) -> str:
        self.blocked = True
        self.verdict = verdict
        self._buf = ""
        return ""


def _shift(result: ScanResult, offset: int) -> ScanResult:
    if not offset or not result.findings:
        return result
    findings = tuple(
        Finding(f.type, f.start + offset, f.end + offset, f.score) for f in result.findings
    )
    return replace(result, findings=findings)


def _overflow(verdict: Verdict) -> Verdict:
    result = ScanResult(
        scanner="stream_guard",
        decision=Decision.BLOCK,
        score=1.0,
        reason="stream_holdback_exceeded",
    )
    return Verdict(
        decision=Decision.BLOCK,
        score=1.0,
        results=(*verdict.results, result),
        text="",
        reasons=(*verdict.reasons, result.reason),
    )
