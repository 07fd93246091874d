"""Data residency: where each classification of a tenant's data may go.

A tenant policy's ``[residency]`` table lists, per classification (the DLP labels
``public``, ``internal``, ``confidential``, ``restricted``), the regions that data may
reach, as patterns (``eu-*``, ``europe-*``, ``on-prem``; ``*`` is anywhere)::

    [residency]
    default_classification = "internal"   # content with no classified findings
    public = ["*"]
    internal = ["eu-*", "us-*"]
    confidential = ["eu-*"]
    restricted = ["eu-central-1"]

A classification not listed allows what the next lower listed one allows (``public``
defaults to anywhere). A component without a region matches only ``*``: with rules in
place, an unlabelled upstream model gets nothing classified. Without a ``[residency]``
table there are no rules and nothing is checked.

The request path applies it to the hop that carries the most data: the upstream model.
A request is classified by the highest label among the personal data the tenant's DLP
policy finds in what would actually be sent (values it redacts or pseudonymizes first
are not sent), and never lower than ``default_classification``; if the model's region
does not allow that classification the request is refused (403 ``residency_denied``)
before anything leaves. The other components (database, connectors, SIEM sinks) are
checked by ``bastion posture`` and shown in the threat model's residency map.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from bastion.errors import BastionError

__all__ = [
    "LABELS",
    "DataHop",
    "ResidencyDenied",
    "ResidencyPolicy",
    "parse_residency_policy",
]

LABELS = ("public", "internal", "confidential", "restricted")
_KEYS = frozenset({*LABELS, "default_classification"})
_MAX_PATTERNS = 64


class ResidencyDenied(BastionError):
    """The request's data may not reach the chosen model's region."""

    status = 403
    code = "residency_denied"
    error_type = "permission_error"


@dataclass(frozen=True, slots=True)
class ResidencyPolicy:
    """``allowed``: the patterns per label, inheritance applied (empty: no rules)."""

    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_classification: str = "internal"

    @property
    def active(self) -> bool:
        return bool(self.allowed)

    def permits(self, label: str, region: str) -> bool:
        """Whether data labelled ``label`` may reach ``region``."""
        if not self.active:
            return True
        patterns = self.allowed[label]
        if "*" in patterns:
            return True
        wanted = region.strip().lower()
        return bool(wanted) and any(fnmatchcase(wanted, p) for p in patterns)

    def highest(self, region: str) -> int:
        """The index in :data:`LABELS` of the highest label ``region`` may receive (-1:
        none)."""
        permitted = [i for i, label in enumerate(LABELS) if self.permits(label, region)]
        return max(permitted, default=-1)

    def classify(self, labels: Iterable[str]) -> str:
        """The request's classification: the highest of ``labels`` and the default."""
        rank = LABELS.index(self.default_classification)
        for label in labels:
            if label in LABELS:
                rank = max(rank, LABELS.index(label))
        return LABELS[rank]

    def check(self, label: str, region: str, what: str) -> None:
        """Raise :class:`ResidencyDenied` when ``label`` may not reach ``region``."""
        if not self.permits(label, region):
            where = region or "an unspecified region"
            raise ResidencyDenied(
                f"This request carries {label} data, which the tenant's residency policy "
                f"does not allow to reach {what} in {where}."
            )


@dataclass(frozen=True, slots=True)
class DataHop:
    """A data source's rows on their way to a model: the connector's region and the
    model's region must both allow the source's classification."""

    policy: ResidencyPolicy
    model_name: str
    model_region: str

    def refusal(self, classification: str, source_region: str) -> str | None:
        """Why the query may not run (a reason for the model and the audit), or None."""
        if not self.policy.permits(classification, source_region):
            # Worded to pass the indirect-injection scan the result goes through.
            return (
                f"residency_denied: {classification} data from this source is kept in a "
                "region outside the allowed ones"
            )
        if not self.policy.permits(classification, self.model_region):
            return (
                f"residency_denied: this source holds {classification} data, which may not "
                f"reach the model {self.model_name} in its region"
            )
        return None


def _patterns(label: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"residency: {label!r} must be a list of region patterns")
    if len(value) > _MAX_PATTERNS:
        raise ValueError(f"residency: {label!r} lists more than {_MAX_PATTERNS} patterns")
    return tuple(v.strip().lower() for v in value)


def parse_residency_policy(table: Mapping[str, Any]) -> ResidencyPolicy:
    """The ``[residency]`` table, checked (ValueError names the key, never a value)."""
    if not table:
        return ResidencyPolicy()
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ValueError(
            f"residency: unknown key {unknown[0]!r:.40} (keys: {', '.join(sorted(_KEYS))})"
        )
    default = table.get("default_classification", "internal")
    if default not in LABELS:
        raise ValueError(f"residency: 'default_classification' must be one of {', '.join(LABELS)}")
    allowed: dict[str, tuple[str, ...]] = {}
    inherited: tuple[str, ...] = ("*",)
    for label in LABELS:
        if label in table:
            inherited = _patterns(label, table[label])
        allowed[label] = inherited
    return ResidencyPolicy(allowed=allowed, default_classification=default)
