"""The limiter on process memory and on Redis: admit, refuse, charge, fail closed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bastion.errors import RateLimited, RateLimitUnavailable
from bastion.ratelimit import RateLimiter, parse_rate_limits
from tests.ports import free_port
from tests.ratelimit.conftest import REDIS_URL


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    user_id: str
    key_id: str


ALICE = Caller("tenant-a", "alice", "key-1")


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    """A limiter on each storage in turn (Redis under this test's own key prefix)."""
    if request.param == "memory":
        built = RateLimiter("memory://")
    else:
        prefix = request.getfixturevalue("redis_prefix")
        built = RateLimiter(REDIS_URL, key_prefix=prefix)
    try:
        yield built
    finally:
        await built.aclose()


async def admitted(limiter: RateLimiter, table: dict[str, str], caller: Caller, n: int) -> int:
    """How many of ``n`` requests in a row are admitted."""
    limits = parse_rate_limits(table)
    count = 0
    for _ in range(n):
        try:
            await limiter.admit(limits, caller)
        except RateLimited:
            continue
        count += 1
    return count


async def test_admits_the_limit_then_refuses(limiter: RateLimiter) -> None:
    """3/minute: three admitted, the fourth refused with OpenAI's type, a Retry-After
    within the window, and a message naming the limit but no id or value."""
    limits = parse_rate_limits({"requests_per_key": "3/minute"})
    for _ in range(3):
        assert await limiter.admit(limits, ALICE) is None  # no token rules: no meter
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(limits, ALICE)
    error = refused.value
    assert (error.status, error.code, error.error_type) == (429, "rate_limit_exceeded", "requests")
    assert 1 <= error.retry_after <= 60
    assert "requests per key" in error.message
    for secret in ("key-1", "tenant-a", "alice", "3/minute", "3 per"):
        assert secret not in error.message
        assert secret not in repr(error)


async def test_tenants_never_share_counters(limiter: RateLimiter) -> None:
    """Another tenant with the very same user and key ids has its own full budget."""
    table = {"requests_per_key": "2/minute", "requests_per_user": "2/minute"}
    assert await admitted(limiter, table, ALICE, 5) == 2
    assert await admitted(limiter, table, Caller("tenant-b", "alice", "key-1"), 5) == 2


async def test_user_limit_spans_the_users_keys(limiter: RateLimiter) -> None:
    """requests_per_user counts a user's requests whichever key they come with."""
    table = {"requests_per_user": "3/minute"}
    assert await admitted(limiter, table, ALICE, 2) == 2
    assert await admitted(limiter, table, Caller("tenant-a", "alice", "key-2"), 5) == 1
    assert await admitted(limiter, table, Caller("tenant-a", "bob", "key-3"), 5) == 3


async def test_a_caller_over_its_own_limit_spends_no_tenant_budget(limiter: RateLimiter) -> None:
    """Narrowest first: Alice hammering past her own limit leaves the tenant's budget
    to everyone else."""
    table = {"requests_per_user": "1/minute", "requests_per_tenant": "3/minute"}
    assert await admitted(limiter, table, ALICE, 10) == 1
    assert await admitted(limiter, table, Caller("tenant-a", "bob", "k"), 1) == 1
    assert await admitted(limiter, table, Caller("tenant-a", "carol", "k"), 1) == 1
    with pytest.raises(RateLimited, match="requests per tenant"):
        await limiter.admit(parse_rate_limits(table), Caller("tenant-a", "dave", "k"))


async def test_tokens_charged_after_the_answer_refuse_the_next(limiter: RateLimiter) -> None:
    """An answer bigger than the whole budget is still charged (in full), and the next
    request is refused with type ``tokens`` before it counts as a request."""
    limits = parse_rate_limits({"tokens_per_user": "100/hour", "requests_per_key": "5/minute"})
    meter = await limiter.admit(limits, ALICE)
    assert meter is not None
    meter.charge(5000)
    await limiter.settle()  # the charge runs in the background
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(limits, ALICE)
    assert refused.value.error_type == "tokens"
    assert "tokens per user" in refused.value.message
    assert 1 <= refused.value.retry_after <= 3600
    # The refused request did not count: only the first of the key's five is used.
    assert await admitted(limiter, {"requests_per_key": "5/minute"}, ALICE, 10) == 4


async def test_tokens_within_budget_are_admitted(limiter: RateLimiter) -> None:
    """Charges below the budget leave the window open; zero tokens charge nothing."""
    limits = parse_rate_limits({"tokens_per_key": "100/hour"})
    meter = await limiter.admit(limits, ALICE)
    assert meter is not None
    meter.charge(60)
    meter.charge(0)
    await limiter.settle()
    assert await limiter.admit(limits, ALICE) is not None


async def test_an_actions_own_limit_counts_per_identifiers(limiter: RateLimiter) -> None:
    """``hit`` (an action's declared rate limit): every window of "a;b" counts, and
    one user's uses never spend another's."""
    uses = [
        await limiter.hit("3/minute;10/hour", "action", "t1", "ana", "send_email") for _ in range(4)
    ]
    assert uses == [True, True, True, False]
    assert await limiter.hit("3/minute;10/hour", "action", "t1", "bo", "send_email")
    assert await limiter.hit("3/minute;10/hour", "action", "t1", "ana", "create_ticket")


async def test_an_actions_limit_fails_closed_without_storage() -> None:
    limiter = RateLimiter(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    try:
        with pytest.raises(RateLimitUnavailable):
            await limiter.hit("3/minute", "action", "t1", "ana", "send_email")
    finally:
        await limiter.aclose()


async def test_no_rules_touch_no_storage() -> None:
    """A policy without limits makes no round trip: even an unreachable Redis admits."""
    limiter = RateLimiter(f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert await limiter.admit(parse_rate_limits({}), ALICE) is None
    finally:
        await limiter.aclose()


async def test_unreachable_redis_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    """Redis down: the request is refused (503), and the log names the error type but
    neither the password in the URI nor the caller."""
    limiter = RateLimiter(f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0", timeout=0.5)
    limits = parse_rate_limits({"requests_per_key": "3/minute", "tokens_per_key": "9/hour"})
    try:
        with caplog.at_level(logging.ERROR, "bastion.ratelimit"):
            with pytest.raises(RateLimitUnavailable) as refused:
                await limiter.admit(limits, ALICE)
            await limiter.charge(limits.tokens, ALICE, 10)  # logged, not raised
    finally:
        await limiter.aclose()
    assert (refused.value.status, refused.value.code) == (503, "rate_limit_unavailable")
    assert "stage=check error=ConnectionError" in caplog.text
    assert "stage=charge error=ConnectionError" in caplog.text
    for secret in ("hunter2", "key-1", "tenant-a"):
        assert secret not in caplog.text
        assert secret not in refused.value.message


@pytest.mark.parametrize(
    "uri", ["memcached://127.0.0.1:11211", "redis+sentinel://:pw-zz@h:1/m", "nonsense"]
)
def test_unsupported_storage_refused_at_start(uri: str) -> None:
    """An unknown scheme stops the gateway from starting; the URI is not echoed."""
    with pytest.raises(ValueError, match="rate_limit_storage: unsupported scheme") as raised:
        RateLimiter(uri)
    assert "pw-zz" not in str(raised.value)


def test_repr_hides_the_uri() -> None:
    """The limiter's repr names the storage type only."""
    limiter = RateLimiter("redis://:pw-zz@127.0.0.1:6379/0")
    assert repr(limiter) == "RateLimiter(storage=RedisStorage)"
