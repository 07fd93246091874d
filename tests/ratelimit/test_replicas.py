"""Two real ``bastion serve`` processes, one database: with Redis the tenant's limit
holds for both together; with memory each process counts alone (why replicas need
Redis)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bastion.identity import IdentityService
from bastion.store import make_engine
from bastion.store.tenancy import maintenance
from bastion.testing.scripted_upstream import ScriptedUpstream
from tests.conftest import need_service
from tests.e2e.conftest import TEST_KEK
from tests.ports import free_port
from tests.ratelimit.conftest import REDIS_URL, delete_matching
from tests.test_serve import start, wait_port

LIMIT = 20
REQUESTS = 60


@contextmanager
def serve_two(data_dir: Path, env: dict[str, str]) -> Iterator[list[int]]:
    """Two gateway processes on two ports, stopped when the generator closes."""
    ports = [free_port(), free_port()]
    procs = [start(data_dir, port, "--dev", env=env) for port in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_port(port, proc)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate(timeout=10)


async def fire(ports: list[int], key: str) -> Counter[int]:
    """``REQUESTS`` concurrent chat calls, alternating between the processes."""
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}]}
    headers = {"authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=REQUESTS)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        calls = [
            client.post(
                f"http://127.0.0.1:{ports[i % 2]}/v1/chat/completions", json=body, headers=headers
            )
            for i in range(REQUESTS)
        ]
        responses = await asyncio.wait_for(asyncio.gather(*calls), timeout=120)
    for response in responses:
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) >= 1
            assert response.json()["error"]["code"] == "rate_limit_exceeded"
    return Counter(response.status_code for response in responses)


@pytest.fixture
def deployment(
    db_url: str, app_db_url: str, tmp_path: Path
) -> Iterator[tuple[Path, dict[str, str], str, str]]:
    """A tenant under a policy of ``requests_per_tenant = LIMIT/minute``, a key for
    it, and the environment two gateway processes share (database, KEK, upstream)."""
    engine = maintenance(make_engine(db_url))
    identity = IdentityService(engine)
    now = datetime.now(UTC)
    tenant_id, _ = identity.ensure_tenant("acme", now)
    key = identity.create_key("acme", "alice@acme.test", now).secret
    engine.dispose()
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "default.toml").write_text(
        f'[rate_limits]\nrequests_per_tenant = "{LIMIT}/minute"\n'
    )
    with ScriptedUpstream.running(record=False) as upstream:
        env = {
            "BASTION_DATABASE_URL": app_db_url,
            "BASTION_DATABASE_ADMIN_URL": db_url,
            "BASTION_KEK": TEST_KEK,
            "BASTION_POLICIES_DIR": str(policies),
            "BASTION_MODELS": json.dumps(
                [
                    {
                        "name": "gpt-test",
                        "base_url": upstream.openai_base_url,
                        "upstream_model": "scripted-gpt",
                    }
                ]
            ),
        }
        yield tmp_path, env, key, tenant_id


@pytest.mark.slow
def test_redis_holds_the_limit_across_replicas(
    deployment: tuple[Path, dict[str, str], str, str], redis_available: bool
) -> None:
    """60 concurrent calls split over two processes sharing Redis: exactly 20 are
    served, 40 refused; the total never exceeds the limit."""
    need_service("Redis", redis_available)
    data_dir, env, key, tenant_id = deployment
    env = env | {"BASTION_RATE_LIMIT_STORAGE": REDIS_URL}
    try:
        with serve_two(data_dir, env) as ports:
            statuses = asyncio.run(fire(ports, key))
    finally:
        delete_matching(f"bastion:*{tenant_id}*")
    print(f"two replicas, Redis: {dict(statuses)}")
    assert statuses == Counter({200: LIMIT, 429: REQUESTS - LIMIT})


@pytest.mark.slow
def test_memory_counts_per_process(deployment: tuple[Path, dict[str, str], str, str]) -> None:
    """The same calls with memory storage: each process admits 20 of its 30, so the
    deployment serves 40. Memory is for one process; replicas need Redis."""
    data_dir, env, key, _ = deployment
    with serve_two(data_dir, env | {"BASTION_RATE_LIMIT_STORAGE": "memory://"}) as ports:
        statuses = asyncio.run(fire(ports, key))
    print(f"two replicas, memory: {dict(statuses)}")
    assert statuses == Counter({200: 2 * LIMIT, 429: REQUESTS - 2 * LIMIT})
