"""Rate limits: requests and tokens per key, per user and per tenant, per window.

A policy's ``[rate_limits]`` table is parsed by :func:`parse_rate_limits`; a
:class:`RateLimiter` counts callers against it in process memory or in Redis (shared
by every replica, so the limit holds for the whole deployment). See
``docs/configuration.md`` (Rate limits).
"""

from __future__ import annotations

from bastion.ratelimit._limiter import RateLimiter, TokenMeter
from bastion.ratelimit._rules import (
    Caller,
    Kind,
    RateLimits,
    Rule,
    Scope,
    parse_rate_limits,
    used_tokens,
)

__all__ = [
    "Caller",
    "Kind",
    "RateLimiter",
    "RateLimits",
    "Rule",
    "Scope",
    "TokenMeter",
    "parse_rate_limits",
    "used_tokens",
]
