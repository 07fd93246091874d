"""The policy's ``[rate_limits]`` table, parsed into rules, and the keys they count under."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from limits import RateLimitItem, parse_many

from bastion.upstream.base import Usage

__all__ = ["Caller", "Kind", "RateLimits", "Rule", "Scope", "parse_rate_limits", "used_tokens"]


class Kind(enum.Enum):
    """What a rule counts: requests (one each, before the call) or tokens (after it)."""

    REQUESTS = "requests"
    TOKENS = "tokens"


class Scope(enum.Enum):
    """Whose counter a rule uses. Listed narrowest first: the order rules are checked,
    so a caller over its own limit is refused before it spends its tenant's budget."""

    KEY = "key"
    USER = "user"
    TENANT = "tenant"


class Caller(Protocol):
    """Who is counted (``bastion.identity.Principal`` is one)."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def user_id(self) -> str: ...

    @property
    def key_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Rule:
    """One limit (an amount per window) on one kind, for one scope."""

    kind: Kind
    scope: Scope
    item: RateLimitItem

    @property
    def name(self) -> str:
        """What the caller is told was exceeded, e.g. ``requests per user``."""
        return f"{self.kind.value} per {self.scope.value}"

    def identifiers(self, caller: Caller) -> tuple[str, ...]:
        """The counter's key parts. The tenant id is always in them, so two tenants
        never share a counter whatever their user or key ids."""
        base = (self.kind.value, caller.tenant_id, self.scope.value)
        if self.scope is Scope.USER:
            return (*base, caller.user_id)
        if self.scope is Scope.KEY:
            return (*base, caller.key_id)
        return base


@dataclass(frozen=True, slots=True)
class RateLimits:
    """A policy's rules, in the order they are checked. None at all: no limit, and the
    gateway makes no storage round trip."""

    requests: tuple[Rule, ...] = ()
    tokens: tuple[Rule, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requests and not self.tokens


_OPTIONS: dict[str, tuple[Kind, Scope]] = {
    f"{kind.value}_per_{scope.value}": (kind, scope) for kind in Kind for scope in Scope
}


def _items(key: str, value: object) -> list[RateLimitItem]:
    example = "such as '60/minute' or '1000/hour;100/minute'"
    if not isinstance(value, str):
        raise ValueError(f"rate_limits.{key} must be a string {example}")
    try:
        items = parse_many(value)
    except ValueError:
        raise ValueError(
            f"rate_limits.{key}: {value!r:.60} is not a rate limit {example}"
        ) from None
    if any(item.amount < 1 for item in items):
        raise ValueError(f"rate_limits.{key}: every amount must be at least 1")
    return items


def parse_rate_limits(table: Mapping[str, Any]) -> RateLimits:
    """Validate the ``[rate_limits]`` table (every key optional). A ValueError names the
    bad key: the gateway then treats the whole policy as invalid and fails closed."""
    unknown = sorted(set(table) - set(_OPTIONS))
    if unknown:
        raise ValueError(
            f"rate_limits: unknown option {unknown[0]!r:.40} (options: {', '.join(_OPTIONS)})"
        )
    rules: dict[Kind, list[Rule]] = {kind: [] for kind in Kind}
    for key, (kind, scope) in _OPTIONS.items():
        if key in table:
            items = sorted(_items(key, table[key]), key=lambda item: item.get_expiry())
            rules[kind].extend(Rule(kind, scope, item) for item in items)
    return RateLimits(requests=tuple(rules[Kind.REQUESTS]), tokens=tuple(rules[Kind.TOKENS]))


def used_tokens(
    usage: Usage | None, prompt: list[dict[str, Any]], response: list[str] | None
) -> int:
    """The tokens one call used: the provider's count when it sent one, else an
    estimate (about four characters a token) when the upstream answered at all, as a
    stream without usage or a client that hung up mid-stream still cost tokens."""
    if usage is not None and usage.total_tokens > 0:
        return usage.total_tokens
    if response is None:
        return 0
    chars = sum(len(str(m.get("content") or "")) for m in prompt) + sum(map(len, response))
    return math.ceil(chars / 4)
