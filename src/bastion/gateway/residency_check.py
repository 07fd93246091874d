"""The residency check on the hop to the upstream model (see governance.residency)."""

from __future__ import annotations

import anyio.to_thread

from bastion.gateway.policies import ResolvedPolicy
from bastion.governance.residency import LABELS
from bastion.scanners.base import Stage
from bastion.scanners.pii import PiiScanner
from bastion.settings import ModelConfig
from bastion.upstream.base import ChatMessage

__all__ = ["check_residency"]


def _labels(resolved: ResolvedPolicy, messages: list[ChatMessage]) -> set[str]:
    """The DLP labels of the personal data still in ``messages`` (after redaction and
    pseudonymization), by the tenant's own ``pii`` input scanner."""
    scanners = [s for s in resolved.pipeline.scanners(Stage.INPUT) if isinstance(s, PiiScanner)]
    found: set[str] = set()
    for scanner in scanners:
        for message in messages:
            found |= scanner.labels(message.content)
    return found


async def check_residency(
    resolved: ResolvedPolicy, model: ModelConfig, messages: list[ChatMessage]
) -> None:
    """Refuse (``ResidencyDenied``) when what would be sent may not reach the model's
    region. Free when the tenant has no rules or the region takes every label."""
    residency = resolved.residency
    if not residency.active or residency.highest(model.region) == len(LABELS) - 1:
        return
    labels = await anyio.to_thread.run_sync(_labels, resolved, messages)
    residency.check(residency.classify(labels), model.region, f"the model {model.name}")
