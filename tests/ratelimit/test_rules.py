"""Parsing ``[rate_limits]``, the counters' keys, and the tokens a call is charged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.ratelimit import Kind, RateLimits, Scope, parse_rate_limits, used_tokens
from bastion.upstream.base import Usage


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    user_id: str
    key_id: str


def test_empty_table_means_no_limits() -> None:
    """No keys: no rules, and the limiter will not touch its storage."""
    assert parse_rate_limits({}) == RateLimits()
    assert parse_rate_limits({}).empty


def test_every_option_parses_into_its_kind_and_scope() -> None:
    """Each of the six options becomes one rule of the right kind and scope, checked
    narrowest first (key, user, tenant)."""
    limits = parse_rate_limits(
        {
            "requests_per_tenant": "600/minute",
            "requests_per_user": "60/minute",
            "requests_per_key": "30 per minute",
            "tokens_per_user": "100000/hour",
            "tokens_per_key": "5000/hour",
            "tokens_per_tenant": "1000000/day",
        }
    )
    assert [(r.kind, r.scope, r.item.amount) for r in limits.requests] == [
        (Kind.REQUESTS, Scope.KEY, 30),
        (Kind.REQUESTS, Scope.USER, 60),
        (Kind.REQUESTS, Scope.TENANT, 600),
    ]
    assert [(r.scope, r.item.amount) for r in limits.tokens] == [
        (Scope.KEY, 5000),
        (Scope.USER, 100000),
        (Scope.TENANT, 1000000),
    ]
    assert [r.name for r in limits.requests] == [
        "requests per key",
        "requests per user",
        "requests per tenant",
    ]


def test_several_windows_for_one_option_shortest_first() -> None:
    """``1000/hour;100/minute`` is two rules, the shorter window checked first (in a
    burst it fills first, so the hour is not spent by a request the minute refuses)."""
    limits = parse_rate_limits({"requests_per_user": "1000/hour;100/minute"})
    assert [(r.item.amount, r.item.get_expiry()) for r in limits.requests] == [
        (100, 60),
        (1000, 3600),
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"requests_per_user": "lots"}, "rate_limits.requests_per_user: 'lots' is not"),
        ({"tokens_per_key": "60/fortnight"}, "rate_limits.tokens_per_key: '60/fortnight'"),
        ({"requests_per_key": ""}, "rate_limits.requests_per_key: '' is not"),
        ({"requests_per_key": "-1/minute"}, "rate_limits.requests_per_key: '-1/minute'"),
        ({"requests_per_key": "0/minute"}, "every amount must be at least 1"),
        ({"requests_per_key": "5/minute;0/hour"}, "every amount must be at least 1"),
        ({"requests_per_key": 60}, "rate_limits.requests_per_key must be a string"),
        ({"requests_per_key": ["60/minute"]}, "must be a string"),
        ({"requests_per_session": "60/minute"}, "unknown option 'requests_per_session'"),
        ({"request_per_user": "60/minute"}, "unknown option 'request_per_user'"),
    ],
)
def test_bad_values_name_the_key(table: dict[str, Any], message: str) -> None:
    """A bad value is a ValueError that names the key and says what to write (the
    gateway then refuses requests under the policy: fail closed)."""
    with pytest.raises(ValueError, match="rate_limits") as raised:
        parse_rate_limits(table)
    assert message in str(raised.value)


def test_a_near_miss_still_parses() -> None:
    """Spaces and ``per`` are the library's own syntax, not errors."""
    assert parse_rate_limits({"requests_per_key": "  10 per second "}).requests[0].item.amount == 10


def test_keys_carry_the_tenant() -> None:
    """Every scope's counter key holds the tenant id; user and key scopes add their id."""
    rules = parse_rate_limits(
        {
            "requests_per_key": "1/minute",
            "requests_per_user": "1/minute",
            "tokens_per_tenant": "9/day",
        }
    )
    caller = Caller("t1", "u1", "k1")
    key, user = rules.requests
    (tenant,) = rules.tokens
    assert key.identifiers(caller) == ("requests", "t1", "key", "k1")
    assert user.identifiers(caller) == ("requests", "t1", "user", "u1")
    assert tenant.identifiers(caller) == ("tokens", "t1", "tenant")


_ID = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=12)


@given(tenants=st.tuples(_ID, _ID).filter(lambda t: t[0] != t[1]), user=_ID, key=_ID)
def test_two_tenants_never_share_a_counter(tenants: tuple[str, str], user: str, key: str) -> None:
    """Two callers in different tenants get different keys for every rule, even with
    the same user and key ids."""
    limits = parse_rate_limits(
        {f"{kind.value}_per_{scope.value}": "5/minute" for kind in Kind for scope in Scope}
    )
    a, b = Caller(tenants[0], user, key), Caller(tenants[1], user, key)
    for rule in (*limits.requests, *limits.tokens):
        assert rule.item.key_for(*rule.identifiers(a)) != rule.item.key_for(*rule.identifiers(b))


def test_user_and_key_scopes_are_distinct_counters() -> None:
    """A user id equal to some key id still counts apart: the scope is in the key."""
    limits = parse_rate_limits({"requests_per_key": "1/minute", "requests_per_user": "1/minute"})
    key, user = limits.requests
    caller = Caller("t", "same", "same")
    assert key.identifiers(caller) != user.identifiers(caller)


@pytest.mark.parametrize(
    ("usage", "prompt", "response", "expected"),
    [
        (Usage(10, 32), [{"role": "user", "content": "hi"}], ["x"], 42),
        (None, [{"role": "user", "content": "a" * 40}], ["b" * 41], 21),
        (Usage(0, 0), [{"role": "user", "content": "abcd"}], [""], 1),
        (None, [{"role": "user", "content": "a" * 400}], None, 0),
        (Usage(3, 4), [], None, 7),
        (None, [{"role": "user", "content": None}], ["abc"], 1),
    ],
)
def test_used_tokens(
    usage: Usage | None, prompt: list[dict[str, Any]], response: list[str] | None, expected: int
) -> None:
    """The provider's count when it sent one; else about four characters a token, and
    nothing when the upstream never answered."""
    assert used_tokens(usage, prompt, response) == expected
