"""The authentication cache: bounded staleness, exact expiry, no key material."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bastion.identity import AuthCache, Principal

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
KEY = "bst_abcdefghijkl_" + "x" * 43


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def principal(expires: datetime | None = None) -> Principal:
    return Principal(
        "t", "acme", "default", "u", "a@acme.test", "member", "k", key_expires_at=expires
    )


def test_hit_until_ttl_then_miss() -> None:
    """An entry is served for ttl seconds and not a moment longer."""
    clock = Clock()
    cache = AuthCache(1.0, monotonic=clock)
    cache.put(KEY, principal())
    clock.now += 0.999
    assert cache.get(KEY, T0) is not None
    clock.now += 0.001
    assert cache.get(KEY, T0) is None
    assert len(cache) == 0


def test_key_expiry_is_exact_even_when_cached() -> None:
    """A cached key stops at its own expiry instant."""
    cache = AuthCache(60.0, monotonic=Clock())
    cache.put(KEY, principal(expires=T0 + timedelta(seconds=5)))
    assert cache.get(KEY, T0 + timedelta(seconds=4)) is not None
    assert cache.get(KEY, T0 + timedelta(seconds=5)) is None


def test_zero_ttl_disables_and_clear_empties() -> None:
    """ttl 0 caches nothing; clear() forgets everything."""
    off = AuthCache(0.0)
    off.put(KEY, principal())
    assert off.get(KEY, T0) is None
    on = AuthCache(5.0, monotonic=Clock())
    on.put(KEY, principal())
    on.clear()
    assert on.get(KEY, T0) is None


def test_bounded_and_holds_no_key_material() -> None:
    """The cache never grows past its bound and stores only digests."""
    cache = AuthCache(5.0, max_entries=3, monotonic=Clock())
    for i in range(10):
        cache.put(KEY[:-1] + str(i), principal())
    assert len(cache) == 3
    assert all(KEY[:20] not in k for k in cache._entries)
    assert cache.get(KEY[:-1] + "0", T0) is None
    assert cache.get(KEY[:-1] + "9", T0) is not None
