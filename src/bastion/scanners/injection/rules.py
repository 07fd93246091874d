"""Deterministic rule features, one category (and reason code) each.

* ``hijack``: instructions that replace the operator's (``ignore all previous
  instructions``, ``new instructions:``, fake turn markers such as ``<|im_start|>``,
  ``[INST]``, ``### system:``, ``END OF USER INPUT``) and, in the indirect profile,
  text that addresses the assistant from inside a document or tool result;
* ``jailbreak``: personas and modes (DAN, developer mode, AIM, evil confidant),
  "no restrictions", refusal suppression, "hypothetically, as an AI without ...";
  direct profile only (a document is not trying to talk the model out of its rules);
* ``extraction``: requests for the system prompt (``repeat your instructions``,
  ``what were you told``, ``output everything above``).

A rule is a regex over one view of the normalized text: ``skeleton`` (lowercase
words, single spaces: most rules), ``compact`` (the skeleton without spaces: words
split or run together) or ``lowered`` (the unhidden text, lowercased, punctuation
kept: turn markers). A rule runs only when one of its ``gates`` occurs in the compact
view, a substring test in C, so benign text pays for a handful of ``in`` checks.
Patterns use bounded repetition only (``(?:\\w+ ){0,3}``), never nested quantifiers.

A rule's ``weight`` is the probability that text it matches is an attack; strong
phrasings are 0.85-0.95, phrasings that also occur in business text 0.25-0.45 so
they need corroboration (another rule or the classifier) to reach a threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from bastion.scanners.injection._rule_table import RULE_TABLE, RuleSpec

__all__ = [
    "CATEGORIES",
    "RULE_TABLE",
    "Profile",
    "Rule",
    "RuleHit",
    "RuleSet",
    "RuleSpec",
    "Views",
    "category_scores",
    "noisy_or",
]

Profile = Literal["direct", "indirect"]
CATEGORIES = ("hijack", "jailbreak", "extraction")


@dataclass(frozen=True, slots=True)
class Views:
    """The three forms rules read (see the module docstring); reprs hide the text."""

    lowered: str = field(repr=False)
    skeleton: str = field(repr=False)
    compact: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    category: str
    weight: float
    view: str
    gates: tuple[str, ...]
    profiles: frozenset[str]
    pattern: re.Pattern[str] = field(repr=False)


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule that fired; ``phrase`` (the matched words) stays out of the repr."""

    rule: str
    category: str
    weight: float
    phrase: str = field(repr=False)


def _compile(spec: RuleSpec) -> Rule:
    rule_id, category, weight, view, gates, profiles, pattern = spec
    if category not in CATEGORIES or not 0.0 < weight < 1.0:
        raise ValueError(f"rule {rule_id}: bad category or weight")
    if view not in ("skeleton", "compact", "lowered"):
        raise ValueError(f"rule {rule_id}: unknown view {view!r}")
    return Rule(
        rule_id, category, weight, view, tuple(gates), frozenset(profiles), re.compile(pattern)
    )


class RuleSet:
    """The compiled rules of one profile; immutable, safe to share between threads."""

    def __init__(self, profile: Profile, table: tuple[RuleSpec, ...] = RULE_TABLE) -> None:
        self.profile = profile
        self._rules = tuple(r for r in map(_compile, table) if profile in r.profiles)

    def __repr__(self) -> str:
        return f"RuleSet(profile={self.profile!r}, rules={len(self._rules)})"

    def __len__(self) -> int:
        return len(self._rules)

    def match(self, views: Views) -> list[RuleHit]:
        """Every rule that fires on ``views`` (one hit per rule)."""
        hits: list[RuleHit] = []
        compact = views.compact
        for rule in self._rules:
            if not any(g in compact for g in rule.gates):
                continue
            target = getattr(views, rule.view)
            found = rule.pattern.search(target)
            if found is not None:
                hits.append(RuleHit(rule.id, rule.category, rule.weight, found.group()))
        return hits


def noisy_or(weights: list[float]) -> float:
    """``1 - prod(1 - w)``: independent pieces of evidence for the same conclusion."""
    rest = 1.0
    for w in weights:
        rest *= 1.0 - w
    return 1.0 - rest


def category_scores(hits: list[RuleHit]) -> dict[str, float]:
    """Noisy-OR of the hit weights per category (categories without hits are absent)."""
    grouped: dict[str, list[float]] = {}
    for hit in hits:
        grouped.setdefault(hit.category, []).append(hit.weight)
    return {category: noisy_or(weights) for category, weights in grouped.items()}
