"""Shared fragments and the entry type of the rule tables of :mod:`.rules`.

Each entry is ``(id, category, weight, view, gates, profiles, pattern)``; see
:mod:`.rules` for what the fields mean. Patterns match the *skeleton* (lowercase
words, single spaces, no punctuation: write ``don t``, not ``don't``) unless the view
says otherwise, and use bounded repetition only.
"""

from __future__ import annotations

__all__ = ["RuleSpec"]

RuleSpec = tuple[str, str, float, str, tuple[str, ...], tuple[str, ...], str]

_B = ("direct", "indirect")
_D = ("direct",)
_I = ("indirect",)
_IGNORE = ("ignor", "disregard", "forget", "overrid", "bypass", "skip", "discard", "neglect")
_AI = (
    r"(?:ai|assistant|llm|llms|language model|chatbot|ai model|ai agent|gpt|chatgpt|claude|copilot)"
)
_VERB = (
    r"(?:repeat|print|reveal|show|display|output|tell|give|write|share|leak|dump|echo|recite|"
    r"expose|disclose|copy|paste|spell|provide|send|translate|encode|return)"
)
_PROMPT = (
    r"(?:system prompt|system message|initial prompt|hidden prompt|secret prompt|original "
    r"prompt|developer message|hidden instructions|initial instructions|original "
    r"instructions|secret instructions|pre prompt|preprompt)"
)
_LIMITS = (
    r"(?:restrictions|filters|limitations|rules|guidelines|censorship|boundaries|ethics|"
    r"morals|restraints|constraints|policies|safety|principles|programming|content policy)"
)
