"""Redis for the rate-limit tests: 127.0.0.1:6379, skipped when absent (failing under
``CI=true``). Each test counts under its own key prefix and deletes its keys after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import need_service

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_available() -> bool:
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_available() -> bool:
    return _redis_available()


def delete_matching(pattern: str) -> None:
    """Delete every key matching ``pattern`` (SCAN, in batches)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        keys = list(client.scan_iter(match=pattern, count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


@pytest.fixture
def redis_prefix(redis_available: bool) -> Iterator[str]:
    """A key prefix of this test's own on the local Redis, emptied afterwards."""
    need_service("Redis", redis_available)
    prefix = f"bastion-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        delete_matching(f"{prefix}:*")
