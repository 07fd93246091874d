"""``prompt_injection``: direct and indirect prompt injection and jailbreaks.

Layers, per window of the text (:data:`WINDOW_CHARS` characters, overlapping by
:data:`WINDOW_OVERLAP`, so time and memory stay linear in the input):

1. :func:`~.normalize.normalize` undoes evasions (homoglyphs, invisible and tag
   characters, leetspeak, spacing, markup);
2. :class:`~.decode.PayloadDecoder` finds embedded payloads (base64, hex, URL, HTML
   entities, rot13, reversed text, nested up to three levels); each decoded text is
   a further *view*, normalized the same way;
3. each view is scored by the rule features (:mod:`.rules`) and the classifier
   (:class:`TextClassifier`, by default the built-in ``InjectionModel``). The classifier
   reads the fully normalized view; in the direct profile also the lightly normalized
   one (:func:`~.normalize.unhide`: what it was trained on, case, punctuation runs and
   digits intact, so adversarial-suffix features such as ``similarlyNow`` or ``-->``
   survive), and its probability ``p`` is the larger of the two. Indirect content
   (code, markup, tables) keeps the normalized view only: there, markup is noise.

Scoring: per view, the rules of a category combine by noisy-OR of their weights,
the categories likewise into the rule evidence ``r``, and the view's score is the
noisy-OR of ``r`` with the classifier's calibrated probability ``p``:
``1 - (1 - p)(1 - r)``. The text's score is the maximum over its views, so an
injection cannot be diluted by surrounding text or hidden in a payload.

Profiles: ``context.role`` ``user`` (and any role not listed below) is *direct*:
all rules, ``threshold``. Roles ``tool``, ``function``, ``document``, ``retrieved``,
``untrusted`` and ``tool_definition`` are *indirect* (content that is not the user's
words): no jailbreak-persona rules, extra rules for text addressed to the assistant,
and the stricter ``indirect_threshold``.

Reason codes (the result's ``reason``): ``injection.encoded_payload`` when the
deciding view was a decoded payload; else ``injection.hijack``, ``injection.jailbreak``
or ``injection.extraction``, the strongest rule category of the deciding view;
``injection.classifier`` when only the classifier spoke; ``injection.external`` when
the optional external classifier crossed its own threshold; ``injection.oversize``
for text over ``max_chars`` (fail closed). Findings have types ``injection:<category>``
(or ``injection:classifier`` / ``injection:external``) and ``encoded:<encoding>``,
spanning the matched phrase in the original text when it can be located there, else
the window or whole text.

Options (``[scanners.prompt_injection]``): ``threshold`` (0.5), ``indirect_threshold``
(0.35), ``action`` (``"block"`` or ``"flag"``: allow, but report the findings),
``max_chars`` (1048576), ``external`` (see :mod:`.external`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bastion.scanners._options import check_keys, choice_option, int_option
from bastion.scanners.base import Decision, Finding, ScanContext, ScanResult
from bastion.scanners.injection.decode import Payload, PayloadDecoder
from bastion.scanners.injection.normalize import compact, skeleton, unhide_normalize
from bastion.scanners.injection.rules import (
    Profile,
    RuleHit,
    RuleSet,
    Views,
    category_scores,
    noisy_or,
)

__all__ = [
    "INDIRECT_ROLES",
    "WINDOW_CHARS",
    "WINDOW_OVERLAP",
    "PromptInjectionScanner",
    "TextClassifier",
    "compile_rules",
    "default_classifier",
]

INDIRECT_ROLES = frozenset(
    {"tool", "function", "document", "retrieved", "untrusted", "tool_definition"}
)
WINDOW_CHARS = 4096
WINDOW_OVERLAP = 256
_MAX_FINDINGS = 16
_OPTIONS = ("threshold", "indirect_threshold", "action", "max_chars", "external")


@runtime_checkable
class TextClassifier(Protocol):
    """Anything that gives a calibrated P(attack) in [0, 1] for normalized text."""

    def score(self, text: str) -> float: ...


def default_classifier() -> TextClassifier:
    """The built-in model, loaded (and integrity-checked) once per call."""
    try:
        from bastion.scanners.injection.model import InjectionModel
    except ImportError as exc:
        raise RuntimeError(
            "prompt_injection: the built-in classifier (bastion.scanners.injection.model) "
            "is not available; build the scanner with classifier=..."
        ) from exc
    return InjectionModel.load_default()


def compile_rules() -> dict[Profile, RuleSet]:
    """The built-in rule table compiled for both profiles (immutable: shareable)."""
    return {"direct": RuleSet("direct"), "indirect": RuleSet("indirect")}


def _probability(name: str, options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(f"{name}: option {key!r} must be a number in (0, 1], got {value!r:.40}")
    return float(value)


@dataclass(frozen=True, slots=True)
class _Scored:
    """One view's evidence."""

    score: float
    categories: Mapping[str, float]
    hits: tuple[RuleHit, ...]
    payload: Payload | None
    offset: int  # the window's start in the original text
    window_end: int
    exact: bool  # spans in the window's unhidden text are spans in the original


class PromptInjectionScanner:
    """Detects prompt injection and jailbreaks; see the module docstring."""

    name = "prompt_injection"

    def __init__(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        classifier: TextClassifier | None = None,
        external: TextClassifier | None = None,
        rules: Mapping[Profile, RuleSet] | None = None,
    ) -> None:
        opts = options or {}
        check_keys(self.name, opts, _OPTIONS)
        self.threshold = _probability(self.name, opts, "threshold", 0.5)
        self.indirect_threshold = _probability(self.name, opts, "indirect_threshold", 0.35)
        self.action = choice_option(self.name, opts, "action", "block", ("block", "flag"))
        self.max_chars = int_option(self.name, opts, "max_chars", 1 << 20, minimum=1)
        self._external_threshold = 1.0
        if "external" in opts and external is None:
            from bastion.scanners.injection.external import load_external

            external, self._external_threshold = load_external(self.name, opts["external"])
        elif external is not None:
            self._external_threshold = 0.5
        self._external = external
        self._classifier = classifier if classifier is not None else default_classifier()
        self._rules = dict(rules) if rules is not None else compile_rules()
        self._decoder = PayloadDecoder()

    def __repr__(self) -> str:
        return (
            f"PromptInjectionScanner(threshold={self.threshold}, "
            f"indirect_threshold={self.indirect_threshold}, action={self.action!r}, "
            f"max_chars={self.max_chars}, external={self._external is not None})"
        )

    def scan(self, text: str, context: ScanContext) -> ScanResult:
        if len(text) > self.max_chars:
            finding = Finding("injection:oversize", 0, len(text))
            return ScanResult(self.name, Decision.BLOCK, 1.0, "injection.oversize", (finding,))
        indirect = context.role in INDIRECT_ROLES
        rules = self._rules["indirect" if indirect else "direct"]
        threshold = self.indirect_threshold if indirect else self.threshold
        best: _Scored | None = None
        external = 0.0
        flagged: list[_Scored] = []
        for start in range(0, max(len(text), 1), WINDOW_CHARS - WINDOW_OVERLAP):
            end = min(len(text), start + WINDOW_CHARS)
            scores, norm = self._score_window(text, start, end, rules)
            for scored in scores:
                if best is None or scored.score > best.score:
                    best = scored
                if scored.score >= threshold:
                    flagged.append(scored)
            if self._external is not None:
                external = max(external, _clamp(self._external.score(norm)))
            if end >= len(text):
                break
        ext_hit = external >= self._external_threshold
        score = max(best.score if best is not None else 0.0, external)
        if best is None or (best.score < threshold and not ext_hit):
            # Allowed, with the calibrated score kept: the audit record and
            # `bastion eval` see how close the text came to the threshold.
            return ScanResult(self.name, Decision.ALLOW, round(score, 4))
        reason = _reason(best) if best.score >= threshold else "injection.external"
        findings = _findings(text, flagged)
        if ext_hit:
            findings.append(Finding("injection:external", 0, len(text), external))
        decision = Decision.BLOCK if self.action == "block" else Decision.ALLOW
        return ScanResult(
            self.name, decision, round(score, 4), reason, tuple(findings[:_MAX_FINDINGS])
        )

    def _score_window(
        self, text: str, start: int, end: int, rules: RuleSet
    ) -> tuple[list[_Scored], str]:
        """The window's views scored, and its normalized text."""
        raw = text[start:end]
        unhidden, norm = unhide_normalize(raw)
        exact = unhidden == raw
        out = [self._score_view(unhidden, norm, rules, None, start, end, exact)]
        for payload in self._decoder.payloads(unhidden):
            view, view_norm = unhide_normalize(payload.text)
            out.append(self._score_view(view, view_norm, rules, payload, start, end, exact))
        return out, norm

    def _score_view(
        self,
        unhidden: str,
        norm: str,
        rules: RuleSet,
        payload: Payload | None,
        start: int,
        end: int,
        exact: bool,
    ) -> _Scored:
        skel = skeleton(norm)
        hits = rules.match(Views(unhidden.lower(), skel, compact(skel)))
        categories = category_scores(hits)
        evidence = noisy_or(list(categories.values()))
        p = self._classify(unhidden, norm, rules.profile == "direct") if skel else 0.0
        score = noisy_or([evidence, p])
        return _Scored(score, categories, tuple(hits), payload, start, end, exact)

    def _classify(self, unhidden: str, norm: str, light: bool) -> float:
        """The classifier's probability on the fully normalized view (homoglyphs, spacing,
        leetspeak and markup undone); with ``light`` (the direct profile), the larger of
        that and its score on the lightly normalized view (tag characters decoded,
        invisible characters dropped, NFKC: the spelling the model was trained on, with
        its case, punctuation runs and digits, which adversarial suffixes are made of)."""
        p = _clamp(self._classifier.score(norm))
        if light and unhidden != norm:
            p = max(p, _clamp(self._classifier.score(unhidden)))
        return p


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def _reason(scored: _Scored) -> str:
    if scored.payload is not None:
        return "injection.encoded_payload"
    if not scored.categories:
        return "injection.classifier"
    return "injection." + max(scored.categories, key=lambda c: scored.categories[c])


def _findings(text: str, flagged: list[_Scored]) -> list[Finding]:
    found: dict[tuple[str, int, int], Finding] = {}
    for scored in flagged:
        window = (scored.offset, scored.window_end)
        if scored.payload is not None:
            span = (scored.offset + scored.payload.start, scored.offset + scored.payload.end)
            if not scored.exact:
                span = window
            for encoding in scored.payload.encodings:
                _add(found, Finding(f"encoded:{encoding}", *span, scored.score))
        if not scored.hits:
            _add(found, Finding("injection:classifier", *window, scored.score))
        spans: dict[str, set[tuple[int, int]]] = {}
        for hit in scored.hits:
            span = _locate(text, hit.phrase, window) if scored.payload is None else window
            spans.setdefault(hit.category, set()).add(span)
        for category, located in spans.items():
            precise = located - {window}
            for span in precise or located:
                _add(found, Finding(f"injection:{category}", *span, scored.score))
        if len(found) >= _MAX_FINDINGS:
            break
    return sorted(found.values(), key=lambda f: (f.start, f.end, f.type))


def _add(found: dict[tuple[str, int, int], Finding], finding: Finding) -> None:
    key = (finding.type, finding.start, finding.end)
    if key not in found or found[key].score < finding.score:
        found[key] = finding


def _locate(text: str, phrase: str, window: tuple[int, int]) -> tuple[int, int]:
    """The span of ``phrase``'s words in the original window, else the whole window."""
    words = re.findall(r"[^\W_]+", phrase)[:24]
    if words:
        pattern = re.compile(r"[\W_]{1,16}".join(map(re.escape, words)), re.IGNORECASE)
        match = pattern.search(text, window[0], window[1])
        if match is not None:
            return match.span()
    return window
