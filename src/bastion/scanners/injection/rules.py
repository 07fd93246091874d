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
kept: turn markers). A rule fires only when one of its ``gates`` occurs in the compact
view (a substring test in C, each gate tested once per call). Gates are loose (they
nearly always pass on long text), so each rule also carries ``needs``: sets of
literal strings derived from its pattern at compile time, such that every match
contains one string of each set (``ignore |disregard |...``). A rule whose ``needs``
are absent from its view cannot match and is skipped. When every match begins with
one of a few strings (``starts``: ``igno``, ``disr``, ...), after a ``\\b`` or at a
line start, the pattern is tried only at those positions instead of at every one
(see :mod:`._starts`: for ``\\b`` rules one regex pass finds the positions of all
rules' starts; when a rule has few, it is tried there before its gate and ``needs``
are tested). All of this only saves work: the hits, weights and matched phrases are
those of a plain ``search`` on every rule whose gate passes.
Patterns use bounded repetition only (``(?:\\w+ ){0,3}``), never nested quantifiers.

A rule's ``weight`` is the probability that text it matches is an attack; strong
phrasings are 0.85-0.95, phrasings that also occur in business text 0.25-0.45 so
they need corroboration (another rule or the classifier) to reach a threshold.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from bastion.scanners.injection._rule_table import RULE_TABLE, RuleSpec
from bastion.scanners.injection._starts import (
    INDEX_MIN_STARTS,
    BoundaryIndex,
    Opening,
    StartFinder,
    leftmost,
    opens_with,
    probe_strings,
)

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
    needs: tuple[tuple[str, ...], ...] = field(default=(), repr=False)
    starts: tuple[str, ...] = field(default=(), repr=False)
    opening: Opening = field(default="any", repr=False)  # see ._starts.opens_with
    probes: tuple[str, ...] = field(default=(), repr=False)  # see ._starts.probe_strings


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule that fired; ``phrase`` (the matched words) stays out of the repr."""

    rule: str
    category: str
    weight: float
    phrase: str = field(repr=False)


# -- required literals -------------------------------------------------------------
# The regex parser of the standard library (``re._parser``; ``sre_parse`` warns on
# import since 3.11). If it is missing or changes shape, rules get no ``needs`` or
# ``starts`` and run exactly as before.
_CAP = 48  # largest set of alternative strings tracked for one piece of a pattern
_MAX_STARTS = 24  # largest set of strings a match may start with that is worth finding
# Start strings are cut to this many characters: fewer, shorter strings to look for
# (one pass over the text each) at the price of more candidate positions.
_START_CHARS = 4
try:
    _P: Any = importlib.import_module("re._parser")
    _C: Any = importlib.import_module("re._constants")
    _REP: tuple[Any, ...] = tuple(
        getattr(_C, name)
        for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
        if hasattr(_C, name)
    )
except ImportError:  # pragma: no cover - other interpreters
    _P = None


class _UnsafeError(Exception):
    """A case-insensitive group: literal tests would not be exact."""


def _finite(items: Any) -> frozenset[str] | None:
    """Every string the sequence ``items`` matches, if that is a small finite set."""
    out: set[str] = {""}
    for item in items:
        part = _finite_item(item)
        if part is None:
            return None
        out = {a + b for a in out for b in part}
        if len(out) > _CAP:
            return None
    return frozenset(out)


def _finite_item(item: Any) -> frozenset[str] | None:
    """Every string one parsed node matches (zero-width ones: ``""``), or None."""
    op, av = item
    if op is _C.LITERAL:
        return frozenset((chr(av),))
    if op is _C.AT or op is _C.ASSERT or op is _C.ASSERT_NOT:
        return frozenset(("",))  # zero-width: consumes nothing
    if op is _C.IN:
        chars: set[str] = set()
        for sop, sav in av:
            if sop is _C.LITERAL:
                chars.add(chr(sav))
            elif sop is _C.RANGE and sav[1] - sav[0] < 8:
                chars.update(chr(c) for c in range(sav[0], sav[1] + 1))
            else:
                return None
        return frozenset(chars)
    if op is _C.SUBPATTERN:
        _check_flags(av)
        return _finite(av[3])
    if op is _C.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            part = _finite(alt)
            if part is None:
                return None
            out |= part
        return frozenset(out) if len(out) <= _CAP else None
    if op in _REP:
        lo, hi, sub = av
        if hi > 2:
            return None
        part = _finite(sub)
        if part is None:
            return None
        out = set()
        cur: set[str] = {""}
        for n in range(hi + 1):
            if n >= lo:
                out |= cur
            cur = {a + b for a in cur for b in part}
        return frozenset(out) if len(out) <= _CAP else None
    return None


def _check_flags(av: Any) -> None:
    if av[1] & re.IGNORECASE:
        raise _UnsafeError


def _score(s: frozenset[str]) -> tuple[int, int, int]:
    """How good a required set is as a filter: long strings (rarer), few of them."""
    n = min(len(x) for x in s)
    return (min(n, 6), -len(s), n)


def _required(items: Any) -> frozenset[str] | None:
    """A set of strings one of which every match of ``items`` contains, or None."""
    found = _candidates(items)
    return max(found, key=_score) if found else None


def _candidates(items: Any) -> list[frozenset[str]]:
    """Sets of strings, each necessary: every match of ``items`` contains one of each set."""
    best: list[frozenset[str]] = []
    segs: list[frozenset[str]] = []

    def offer(c: frozenset[str] | None) -> None:
        if c and "" not in c:
            best.append(c)

    for item in items:
        fin = _finite_item(item)
        if fin is None:
            for seg in segs:
                offer(seg)
            segs = []
            offer(_required_item(item))
            continue
        grown: list[frozenset[str]] = []
        for seg in segs:
            offer(seg)
            nxt = frozenset(a + b for a in seg for b in fin)
            if len(nxt) <= _CAP:
                grown.append(nxt)
        grown.append(fin)
        segs = grown
    for seg in segs:
        offer(seg)
    return best


def _required_item(item: Any) -> frozenset[str] | None:
    """A required set of one node whose language is not small and finite."""
    op, av = item
    if op is _C.SUBPATTERN:
        _check_flags(av)
        return _required(av[3])
    if op is _C.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            part = _required(alt)
            if part is None:
                return None
            out |= part
        return frozenset(out)
    if op in _REP and av[0] >= 1:
        return _required(av[2])
    return None  # optional, lookaround, class, back-reference: requires nothing


def _prefix(items: Any) -> frozenset[str] | None:
    """Strings one of which every match of ``items`` starts with, or None."""
    out: frozenset[str] = frozenset(("",))
    for item in items:
        fin = _finite_item(item)
        if fin is None:
            if out == {""}:
                return _prefix_item(item)
            break
        if all(len(a) >= _START_CHARS for a in out):
            break
        grown = frozenset((a + b)[:_START_CHARS] for a in out for b in fin)
        if len(grown) > _MAX_STARTS:
            break
        out = grown
    return None if "" in out else out


def _prefix_item(item: Any) -> frozenset[str] | None:
    op, av = item
    if op is _C.SUBPATTERN:
        _check_flags(av)
        return _prefix(av[3])
    if op is _C.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            part = _prefix(alt)
            if part is None:
                return None
            out |= part
        return frozenset(out) if len(out) <= _MAX_STARTS else None
    if op in _REP and av[0] >= 1:
        return _prefix(av[2])
    return None


def match_starts(pattern: re.Pattern[str]) -> tuple[str, ...]:
    """Strings one of which every match of ``pattern`` begins with, none containing
    another (``()`` when unknown: the rule is searched for everywhere)."""
    if _P is None or pattern.flags & re.IGNORECASE:
        return ()
    try:
        found = _prefix(_P.parse(pattern.pattern, pattern.flags))
    except Exception:  # an unknown parse tree: no shortcut, same results
        return ()
    if not found:
        return ()
    return _shortest(frozenset(s[:_START_CHARS] for s in found), str.startswith)


def match_opening(pattern: re.Pattern[str]) -> Opening:
    """What every match of ``pattern`` begins with (see :func:`._starts.opens_with`)."""
    if _P is None or pattern.flags & (re.ASCII | re.LOCALE | re.MULTILINE):
        return "any"
    try:
        return opens_with(_P.parse(pattern.pattern, pattern.flags), _C)
    except Exception:  # an unknown parse tree: no shortcut, same results
        return "any"


def required_literals(pattern: re.Pattern[str]) -> tuple[tuple[str, ...], ...]:
    """Up to two sets of strings such that every match of ``pattern`` contains one
    string of each set (``()`` when none is known: the rule always runs)."""
    if _P is None or pattern.flags & re.IGNORECASE:
        return ()
    try:
        found = _candidates(_P.parse(pattern.pattern, pattern.flags))
    except Exception:  # an unknown parse tree: no shortcut, same results
        return ()
    chosen: list[frozenset[str]] = []
    for cand in sorted(set(found), key=lambda c: (_score(c), sorted(c)), reverse=True):
        if any(all(any(a in b for a in cand) for b in prev) for prev in chosen):
            continue  # implied by a stronger set already chosen
        chosen.append(cand)
        if len(chosen) == 2:
            break
    return tuple(_shortest(cand, str.__contains__) for cand in chosen)


def _shortest(strings: frozenset[str], implies: Any) -> tuple[str, ...]:
    """``strings`` without those that contain (or start with) another one."""
    return tuple(sorted(s for s in strings if not any(o != s and implies(s, o) for o in strings)))


def _compile(spec: RuleSpec) -> Rule:
    rule_id, category, weight, view, gates, profiles, pattern = spec
    if category not in CATEGORIES or not 0.0 < weight < 1.0:
        raise ValueError(f"rule {rule_id}: bad category or weight")
    if view not in ("skeleton", "compact", "lowered"):
        raise ValueError(f"rule {rule_id}: unknown view {view!r}")
    compiled = re.compile(pattern)
    starts = match_starts(compiled)
    needs = tuple(  # fewest strings first; a set the starts imply, or larger, adds nothing
        need
        for need in sorted(required_literals(compiled), key=len)
        if not starts
        or (len(need) < len(starts) and not all(any(n in s for n in need) for s in starts))
    )
    opening = match_opening(compiled)
    probes = probe_strings(starts, opening) if starts or opening == "line" else ()
    return Rule(
        rule_id,
        category,
        weight,
        view,
        tuple(gates),
        frozenset(profiles),
        compiled,
        needs,
        starts,
        opening,
        probes,
    )


class RuleSet:
    """The compiled rules of one profile; immutable, safe to share between threads."""

    def __init__(self, profile: Profile, table: tuple[RuleSpec, ...] = RULE_TABLE) -> None:
        self.profile = profile
        self._rules = tuple(r for r in map(_compile, table) if profile in r.profiles)
        # Per view: the boundary index of its rules' starts, when there are enough of
        # them to be worth one regex pass; per rule: its keys in that index, if any.
        index: dict[str, BoundaryIndex | None] = {}
        for view in _VIEWS:
            starts = {s for r in self._rules if r.view == view and _bounded(r) for s in r.starts}
            enough = len(starts) >= INDEX_MIN_STARTS
            index[view] = BoundaryIndex.build(starts) if enough else None
        self._index = index
        self._keys = tuple(_index_keys(r, index[r.view]) for r in self._rules)

    def __repr__(self) -> str:
        return f"RuleSet(profile={self.profile!r}, rules={len(self._rules)})"

    def __len__(self) -> int:
        return len(self._rules)

    def match(self, views: Views) -> list[RuleHit]:
        """Every rule that fires on ``views`` (one hit per rule)."""
        hits: list[RuleHit] = []
        compact = views.compact
        gates: dict[str, bool] = {}  # rules share gates: each is tested once per call
        known: dict[str, dict[str, bool]] = {view: {} for view in _VIEWS}
        finders: dict[str, StartFinder] = {}
        for rule, keys in zip(self._rules, self._keys, strict=True):
            target = getattr(views, rule.view)
            finder = finders.get(rule.view)
            if finder is None:
                finder = finders[rule.view] = StartFinder(target, self._index[rule.view])
            positions: list[int] | None = None
            if keys is not None:  # a few lookups, once the view's index has run
                positions = finder.indexed_candidates(keys)
                if not positions:
                    continue
            # With few positions, trying the pattern there costs less than the gate's
            # and needs' substring tests: the gate is then tested only after a match.
            few = positions is not None and len(positions) <= _FEW_POSITIONS
            if not few:
                if not _any_gate(rule.gates, compact, gates):
                    continue
                if rule.needs and not _has_all(rule.needs, target, known[rule.view]):
                    continue  # a string every match contains is absent: cannot match
            if positions is None and rule.probes:
                positions = finder.candidates(rule.probes, line=rule.opening == "line")
            if positions is not None:
                found = leftmost(rule.pattern, positions, target)
            else:
                found = rule.pattern.search(target)
            if few and found is not None and not _any_gate(rule.gates, compact, gates):
                continue
            if found is not None:
                hits.append(RuleHit(rule.id, rule.category, rule.weight, found.group()))
        return hits


_VIEWS = ("lowered", "skeleton", "compact")
_FEW_POSITIONS = 32


def _bounded(rule: Rule) -> bool:
    """Whether ``rule`` can use a boundary index: every match begins with ``\\b`` and
    one of its starts."""
    return bool(rule.starts) and rule.opening == "boundary"


def _index_keys(rule: Rule, index: BoundaryIndex | None) -> tuple[str, ...] | None:
    """The strings of ``index`` whose positions are ``rule``'s candidates, or None when
    the rule does not use the index."""
    if index is None or not _bounded(rule):
        return None
    return index.keys(rule.starts)


def _any_gate(gates: tuple[str, ...], compact: str, known: dict[str, bool]) -> bool:
    """Whether one of ``gates`` occurs in ``compact``; ``known`` caches the answers."""
    for gate in gates:
        present = known.get(gate)
        if present is None:
            present = known[gate] = gate in compact
        if present:
            return True
    return False


def _has_all(needs: tuple[tuple[str, ...], ...], text: str, known: dict[str, bool]) -> bool:
    """Whether ``text`` holds one string of each set; ``known`` caches the answers per
    string (rules share many, such as the verbs of the ``ignore`` family)."""
    for need in needs:
        for string in need:
            present = known.get(string)
            if present is None:
                present = known[string] = string in text
            if present:
                break
        else:
            return False
    return True


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
