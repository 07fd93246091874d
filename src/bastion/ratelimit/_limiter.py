"""Counting against the rules, in process memory or in Redis shared by every replica.

Requests use the *moving window* strategy: each admitted request is one timestamped
entry and a request is admitted only while fewer than the limit fall in the trailing
window. It is exact (no window edge lets twice the limit through, unlike a fixed
window, and no weighting approximates the count, unlike the sliding-window counter),
and on Redis the check-and-add is one Lua script, atomic across replicas: N replicas
together never admit more than the limit. It stores one entry per admitted request,
which is fine for request counts.

Tokens use a *fixed window* counter: the answer's tokens are added after the call
(``INCR``, which always lands, however large; the moving window and sliding counter
refuse a charge that would overflow and then record nothing), and a request is
refused before the call while a token window is already spent. Token limits are
therefore exceeded by at most the one answer that spends them, and a window edge can
admit up to twice the limit: the price of counting tokens in one integer per window.

One storage round trip per rule; none when a policy has no rules. A storage that
fails or times out refuses the request (:class:`RateLimitUnavailable`): fail closed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from limits import parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from bastion.errors import RateLimited, RateLimitUnavailable
from bastion.ratelimit._rules import Caller, RateLimits, Rule

__all__ = ["RateLimiter", "TokenMeter"]

log = logging.getLogger("bastion.ratelimit")

_REDIS_SCHEMES = ("redis", "rediss")
_FAILURES = (StorageError, OSError, TimeoutError)
_SETTLE_SECONDS = 5.0  # at most this long for pending charges on close


def _retry_after(reset: float, now: float) -> int:
    """Whole seconds until ``reset``, at least one (a client told 0 retries at once)."""
    return max(1, math.ceil(reset - now))


class TokenMeter:
    """Charges one request's tokens to its token rules once the answer is known."""

    __slots__ = ("_caller", "_limiter", "_rules")

    def __init__(self, limiter: RateLimiter, rules: tuple[Rule, ...], caller: Caller) -> None:
        self._limiter = limiter
        self._rules = rules
        self._caller = caller

    def charge(self, tokens: int) -> None:
        """Add ``tokens`` to every token window, in the background: this starts the
        writes without awaiting them, so it also works while the request is being
        cancelled (a client that hangs up mid-stream is still charged)."""
        if tokens > 0:
            self._limiter._spawn(self._limiter.charge(self._rules, self._caller, tokens))


class RateLimiter:
    """Checks and counts a caller against a policy's :class:`RateLimits`.

    ``storage_uri`` is ``memory://`` (this process only) or ``redis://host:port/db``
    (``rediss://`` for TLS), shared by every replica. ``timeout`` bounds each Redis
    connect and command. ``clock`` only computes Retry-After; the windows themselves
    run on the storage's wall clock (``limits`` reads ``time.time()``).
    """

    def __init__(
        self,
        storage_uri: str,
        *,
        timeout: float = 1.0,
        key_prefix: str = "bastion",
        clock: Callable[[], float] = time.time,
    ) -> None:
        scheme = urlsplit(storage_uri).scheme
        self._pool: ConnectionPool | None = None
        self._storage: Storage
        if scheme == "memory":
            self._storage = MemoryStorage()
        elif scheme in _REDIS_SCHEMES:
            self._pool = ConnectionPool.from_url(
                storage_uri, socket_timeout=timeout, socket_connect_timeout=timeout
            )
            # Our own pool, so that aclose() can close it (limits has no close).
            self._storage = RedisStorage(
                "async+redis://",
                implementation="redispy",
                key_prefix=key_prefix,
                wrap_exceptions=True,
                connection_pool=self._pool,  # type: ignore[arg-type]  # handed to redis-py
            )
        else:
            # Not the URI itself: it may hold a password.
            raise ValueError(
                f"rate_limit_storage: unsupported scheme {scheme!r:.20} "
                "(use memory://, redis:// or rediss://)"
            )
        self._requests = MovingWindowRateLimiter(self._storage)
        self._tokens = FixedWindowRateLimiter(self._storage)
        self._clock = clock
        self._pending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"RateLimiter(storage={type(self._storage).__name__})"

    async def admit(self, limits: RateLimits, caller: Caller) -> TokenMeter | None:
        """Refuse (:class:`RateLimited`) if a token window is spent or a request window
        is full; otherwise count the request. The meter charges the answer's tokens
        (None: the policy limits no tokens).

        Token windows are only read, so a refusal for tokens counts no request.
        Request rules are counted narrowest first and the first full one refuses:
        the windows before it keep the refused request, the ones after never see it.
        """
        if limits.empty:
            return None
        try:
            for rule in limits.tokens:
                if not await self._tokens.test(rule.item, *rule.identifiers(caller)):
                    stats = await self._tokens.get_window_stats(
                        rule.item, *rule.identifiers(caller)
                    )
                    raise _refusal(rule, _retry_after(stats.reset_time, self._clock()))
            for rule in limits.requests:
                if not await self._requests.hit(rule.item, *rule.identifiers(caller)):
                    stats = await self._requests.get_window_stats(
                        rule.item, *rule.identifiers(caller)
                    )
                    raise _refusal(rule, _retry_after(stats.reset_time, self._clock()))
        except _FAILURES as exc:
            _log_failure("check", exc)
            raise RateLimitUnavailable(
                "Rate limits cannot be checked right now; the request was not served."
            ) from None
        return TokenMeter(self, limits.tokens, caller) if limits.tokens else None

    async def hit(self, limit: str, *identifiers: str) -> bool:
        """Count one use against ``limit`` (``"20/minute"``, ``"10/hour;2/minute"``,
        already checked by whoever declared it) for ``identifiers``; False when a
        window is full. Storage failures raise :class:`RateLimitUnavailable`."""
        try:
            for item in parse_many(limit):
                if not await self._requests.hit(item, *identifiers):
                    return False
        except _FAILURES as exc:
            _log_failure("hit", exc)
            raise RateLimitUnavailable(
                "Rate limits cannot be checked right now; the request was not served."
            ) from None
        return True

    async def charge(self, rules: tuple[Rule, ...], caller: Caller, tokens: int) -> None:
        """Add ``tokens`` to each token window. A failure is logged, not raised: the
        answer is already out, and while storage is down every request is refused."""
        try:
            for rule in rules:
                await self._tokens.hit(rule.item, *rule.identifiers(caller), cost=tokens)
        except _FAILURES as exc:
            _log_failure("charge", exc)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a task this limiter holds until it is done (awaited on close)."""
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def settle(self) -> None:
        """Wait for the charges started so far (each is bounded by the storage timeout)."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=_SETTLE_SECONDS)

    async def aclose(self) -> None:
        """Finish pending charges, then close the storage's connections."""
        await self.settle()
        if isinstance(self._storage, MemoryStorage):
            timer = self._storage.timer  # its expiry sweep task, if one is running
            if timer is not None and not timer.done():
                timer.cancel()
        if self._pool is not None:
            await self._pool.aclose()


def _refusal(rule: Rule, retry_after: int) -> RateLimited:
    return RateLimited(
        f"Rate limit exceeded: {rule.name}. Please try again in {retry_after}s.",
        kind=rule.kind.value,
        retry_after=retry_after,
    )


def _log_failure(stage: str, exc: Exception) -> None:
    # Only the type: a storage error can quote the URI (with its password) or a key.
    cause = exc.storage_error if isinstance(exc, StorageError) else exc
    log.error("rate limit storage unavailable stage=%s error=%s", stage, type(cause).__name__)
