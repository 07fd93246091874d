"""Prompt-injection and jailbreak detection: the ``prompt_injection`` scanner.

:class:`PromptInjectionScanner` combines evasion normalization (:func:`normalize`),
payload decoding (:class:`PayloadDecoder`), rule features (:class:`RuleSet`) and a
classifier (any :class:`TextClassifier`; the built-in model by default). The
optional ONNX classifier lives in :mod:`.external`; nothing here imports it, or the
built-in model, until a scanner is built.
"""

from bastion.scanners.injection.decode import Payload, PayloadDecoder
from bastion.scanners.injection.normalize import normalize, skeleton, unhide
from bastion.scanners.injection.rules import RuleHit, RuleSet, Views
from bastion.scanners.injection.scanner import (
    INDIRECT_ROLES,
    PromptInjectionScanner,
    TextClassifier,
    default_classifier,
)

__all__ = [
    "INDIRECT_ROLES",
    "Payload",
    "PayloadDecoder",
    "PromptInjectionScanner",
    "RuleHit",
    "RuleSet",
    "TextClassifier",
    "Views",
    "default_classifier",
    "normalize",
    "skeleton",
    "unhide",
]
