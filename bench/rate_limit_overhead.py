"""Rate-limit overhead per request: what ``RateLimiter.admit`` (and the token charge
after the answer) adds, on process memory and on Redis, against a baseline policy
with no limits (no storage round trip at all).

The limited policy is a typical one: ``requests_per_key``, ``requests_per_tenant`` and
``tokens_per_user``: three storage round trips before the call (two moving-window
hits, one token read) and one after (the token charge). Amounts are high enough
that nothing is refused, and callers rotate over ``--callers`` keys, as under real
traffic. Redis is ``--redis`` (default the local one; keys under a fresh prefix,
deleted afterwards); without it only memory is measured. One event loop, sequential
calls (latency, not throughput). Prints p50/p99 in microseconds and the added
latency and ratio against the baseline, and ends with one ``RESULT`` line.

    python bench/rate_limit_overhead.py [--items N] [--callers N] [--redis URL]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass

import redis

from bastion.evaluation import percentile
from bastion.ratelimit import RateLimiter, RateLimits, parse_rate_limits

LIMITED = {
    "requests_per_key": "1000000/minute",
    "requests_per_tenant": "10000000/minute",
    "tokens_per_user": "1000000000/hour",
}


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    user_id: str
    key_id: str


async def timed(
    limiter: RateLimiter, limits: RateLimits, callers: list[Caller], n: int
) -> list[float]:
    """Microseconds per request: admit before the call, charge after it."""
    out: list[float] = []
    for i in range(n):
        caller = callers[i % len(callers)]
        start = time.perf_counter_ns()
        meter = await limiter.admit(limits, caller)
        if meter is not None:
            meter.charge(150)
            await limiter.settle()
        out.append((time.perf_counter_ns() - start) / 1e3)
    return out


def redis_reachable(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


async def run(args: argparse.Namespace) -> dict[str, float]:
    tenant = str(uuid.uuid4())
    callers = [Caller(tenant, f"user-{i % 50}", f"key-{i}") for i in range(args.callers)]
    limited, none = parse_rate_limits(LIMITED), parse_rate_limits({})
    results: dict[str, float] = {}

    def report(label: str, samples: list[float], base: float | None) -> None:
        p50, p99 = percentile(samples, 50) or 0.0, percentile(samples, 99) or 0.0
        results[f"{label}_p50_us"], results[f"{label}_p99_us"] = p50, p99
        extra = ""
        if base:
            results[f"{label}_ratio_p50"] = p50 / base
            extra = f" | added p50 {p50 - base:.1f} us, ratio {p50 / base:.1f}x baseline"
        print(f"{label:>8} x{len(samples)}: p50 {p50:.1f} us p99 {p99:.1f} us{extra}")

    memory = RateLimiter("memory://")
    baseline = await timed(memory, none, callers, args.items)
    report("baseline", baseline, None)
    base = percentile(baseline, 50) or 0.0
    await timed(memory, limited, callers, min(args.items, 500))  # warm up
    report("memory", await timed(memory, limited, callers, args.items), base)
    await memory.aclose()
    if redis_reachable(args.redis):
        prefix = f"bastion-bench-{uuid.uuid4().hex[:8]}"
        shared = RateLimiter(args.redis, key_prefix=prefix)
        try:
            await timed(shared, limited, callers, min(args.items, 500))
            report("redis", await timed(shared, limited, callers, args.items), base)
        finally:
            await shared.aclose()
            delete_prefix(args.redis, prefix)
        results["redis_vs_memory_p50"] = results["redis_p50_us"] / results["memory_p50_us"]
    else:
        print("   redis: not reachable; skipped")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    print("RESULT " + " ".join(f"{k}={v:.3f}" for k, v in results.items()))


if __name__ == "__main__":
    main()
