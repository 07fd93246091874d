"""Scanner names to factories: an explicit, per-application registry (no globals).

A factory takes the scanner's option table from the policy and returns a scanner;
it raises :class:`ValueError` naming the option when the table is invalid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from bastion.dlp._names import load_names
from bastion.scanners.base import AsyncScanner, Scanner
from bastion.scanners.canary import CanaryScanner
from bastion.scanners.exfil import MarkdownExfilScanner
from bastion.scanners.injection.scanner import (
    PromptInjectionScanner,
    compile_rules,
    default_classifier,
)
from bastion.scanners.invisible import InvisibleTextScanner
from bastion.scanners.leak import SystemPromptLeakScanner
from bastion.scanners.pii import PiiScanner
from bastion.scanners.secrets import SecretsScanner
from bastion.scanners.size import PromptSizeScanner

__all__ = ["ScannerFactory", "ScannerRegistry", "default_registry"]

ScannerFactory = Callable[[Mapping[str, Any]], Scanner | AsyncScanner]


class ScannerRegistry:
    """Maps scanner names to factories."""

    def __init__(self) -> None:
        self._factories: dict[str, ScannerFactory] = {}

    def __repr__(self) -> str:
        return f"ScannerRegistry(names={list(self.names)!r})"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._factories))

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def register(self, name: str, factory: ScannerFactory, *, replace: bool = False) -> None:
        """Add ``factory`` under ``name``; registering a name twice needs ``replace``."""
        if not name or not isinstance(name, str):
            raise ValueError("scanner name must be a non-empty string")
        if name in self._factories and not replace:
            raise ValueError(f"scanner {name!r} is already registered (pass replace=True)")
        self._factories[name] = factory

    def create(self, name: str, options: Mapping[str, Any]) -> Scanner | AsyncScanner:
        """A new scanner built from ``options``; an unknown name lists the known ones."""
        factory = self._factories.get(name)
        if factory is None:
            known = ", ".join(self.names) or "none"
            raise ValueError(f"unknown scanner {name!r} (known scanners: {known})")
        scanner = factory(options)
        if not isinstance(scanner, Scanner | AsyncScanner):
            raise TypeError(f"factory for scanner {name!r} did not return a scanner")
        return scanner


def default_registry() -> ScannerRegistry:
    """A new registry holding the built-in scanners.

    Every ``prompt_injection`` scanner the registry creates (one per policy) shares one
    built-in classifier and one compiled rule table, made on first use: both are
    immutable and thread-safe, and making them takes about 150 ms and several MB, which
    each tenant's policy would otherwise pay on its first request. Likewise every
    ``pii`` scanner with ``names`` on shares one spaCy model per model name (about
    100 MB and 0.7 s to load)."""
    registry = ScannerRegistry()

    classifier = cache(default_classifier)
    rules = cache(compile_rules)

    names = cache(load_names)

    def injection(options: Mapping[str, Any]) -> PromptInjectionScanner:
        return PromptInjectionScanner(options, classifier=classifier(), rules=rules())

    def pii(options: Mapping[str, Any]) -> PiiScanner:
        return PiiScanner(options, names=names)

    registry.register(CanaryScanner.name, CanaryScanner)
    registry.register(InvisibleTextScanner.name, InvisibleTextScanner)
    registry.register(MarkdownExfilScanner.name, MarkdownExfilScanner)
    registry.register(PromptInjectionScanner.name, injection)
    registry.register(PiiScanner.name, pii)
    registry.register(PromptSizeScanner.name, PromptSizeScanner)
    registry.register(SecretsScanner.name, SecretsScanner)
    registry.register(SystemPromptLeakScanner.name, SystemPromptLeakScanner)
    return registry
