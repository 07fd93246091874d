"""``pii``: personal data in prompts and answers, acted on per policy.

Detection is :class:`~bastion.dlp.detectors.PiiDetector`; what happens to each finding
is the :class:`~bastion.dlp.policy.DlpPolicy` action of its type and direction (input
stage: ``to_model``; output stage: ``to_user``):

- ``allow``: nothing (the finding is not reported);
- ``mask``, ``redact``, ``hash``, ``pseudonymize``: REDACT, each finding carrying its
  replacement (``**** **** **** 1111``, ``[REDACTED:US_SSN]``,
  ``<US_SSN:3f9a0c…>``, ``<EMAIL_1>``); hash is keyed by the tenant's key
  (``ScanContext.hash_key``: equal values give equal tokens within a tenant, never
  across tenants); pseudonymize adds to the request's map (``ScanContext.pseudonyms``),
  from which the gateway restores the answer for the caller; without a key or a map
  the value is redacted;
- ``block``: BLOCK, reason ``pii_blocked``.

Reason ``pii_detected`` when something is rewritten. Findings never carry values.
Tool definitions (role ``tool_definition``) are the application's schema, not data
about anyone, and are not scanned: a support address in a tool's description must not
turn every request that offers the tool into a blocked one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bastion.dlp._names import NameDetector, load_names
from bastion.dlp.detectors import PiiDetector
from bastion.dlp.operators import Action, replace_value
from bastion.dlp.policy import Direction, DlpPolicy, parse_dlp_options
from bastion.scanners.base import Decision, Finding, ScanContext, ScanResult, Stage

__all__ = ["PiiScanner"]


class PiiScanner:
    """Structured personal data, acted on per tenant, entity type and direction."""

    name = "pii"
    # The longest value a stream guard must hold back to see whole: an IBAN of 34
    # characters with spaces, a phone number with an extension, an email address.
    max_match_chars = 256

    def __init__(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        names: Callable[[str | None], NameDetector] = load_names,
    ) -> None:
        self.policy: DlpPolicy = parse_dlp_options(options or {})
        model = self.policy.names
        # A registry passes a cached loader: every policy shares one loaded model.
        detector = names(model or None) if model is not None else None
        self._detector = PiiDetector(default_region=self.policy.region, names=detector)
        # The gateway derives the tenant's hash key only for policies that hash.
        self.needs_hash_key = self.policy.uses_hash

    def __repr__(self) -> str:
        names = ", names=True" if self.policy.names is not None else ""
        return f"PiiScanner(region={self.policy.region!r}{names})"

    def labels(self, text: str) -> set[str]:
        """The classification labels (``public`` .. ``restricted``) of the personal data
        in ``text`` under this policy: what data residency rules weigh."""
        return {self.policy.labels[found.type] for found in self._detector.detect(text)}

    def scan(self, text: str, context: ScanContext) -> ScanResult:
        if context.role == "tool_definition":
            return ScanResult.allow(self.name)
        direction: Direction = "to_model" if context.stage is Stage.INPUT else "to_user"
        findings: list[Finding] = []
        blocked = False
        for found in self._detector.detect(text):
            action = self.policy.action(direction, found.type)
            if action is Action.ALLOW:
                continue
            if action is Action.BLOCK:
                blocked = True
                findings.append(Finding(f"pii:{found.type}", found.start, found.end, found.score))
                continue
            value = text[found.start : found.end]
            replacement = replace_value(
                action,
                found.type,
                value,
                text,
                pseudonyms=context.pseudonyms,
                hash_key=context.hash_key,
            )
            findings.append(
                Finding(f"pii:{found.type}", found.start, found.end, found.score, replacement)
            )
        if blocked:
            return ScanResult(self.name, Decision.BLOCK, 1.0, "pii_blocked", tuple(findings))
        if findings:
            score = max(f.score for f in findings)
            return ScanResult(self.name, Decision.REDACT, score, "pii_detected", tuple(findings))
        return ScanResult.allow(self.name)
