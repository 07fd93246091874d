"""A model rollback under traffic: a new version registered, then rolled back, from
another connection (what ``bastion models`` does), while clients keep calling the
gateway. Every request succeeds, each switch reaches the running gateway, and both
changes are in the deployment's audit chain."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import openai
import pytest

from bastion.governance.audit import recorder
from bastion.governance.registry import ModelRegistry
from bastion.settings import ModelConfig
from tests.e2e.conftest import Gateway

MAX_REQUESTS = 3000  # the traffic loop's bound
WAIT_SECONDS = 30.0


@pytest.fixture
def gateway_extra_settings() -> dict[str, object]:
    return {"models_refresh_seconds": 0.2}


def now() -> datetime:
    return datetime.now(UTC)


def test_rollback_under_traffic(gateway: Gateway) -> None:
    registry = ModelRegistry(gateway.engine, now, recorder(gateway.engine, gateway.sealer))
    (v1,) = [v for v in registry.current() if v.alias == "gpt-test"]
    statuses: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        with openai.OpenAI(
            base_url=gateway.base_url + "/v1", api_key=gateway.key, max_retries=0
        ) as client:
            for _ in range(MAX_REQUESTS):
                if stop.is_set():
                    return
                try:
                    client.chat.completions.create(
                        model="gpt-test", messages=[{"role": "user", "content": "hello"}]
                    )
                    statuses.append(200)
                except openai.APIStatusError as exc:
                    statuses.append(exc.status_code)

    def upstream_sees(target: str, after: int) -> bool:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            seen = [r.body.get("model") for r in gateway.upstream.requests[after:]]
            if target in seen[-3:]:
                return True
            time.sleep(0.05)
        return False

    start = len(gateway.upstream.requests)
    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        assert upstream_sees("scripted-gpt", start)
        v2 = v1.config().model_copy(update={"upstream_model": "scripted-gpt-2024-12-01"})
        assert isinstance(v2, ModelConfig)
        registry.register(v2, actor="cli", note="canary release")
        switched = len(gateway.upstream.requests)
        assert upstream_sees("scripted-gpt-2024-12-01", switched)
        assert registry.rollback("gpt-test", actor="cli") == (v1.version + 1, v1.version)
        rolled = len(gateway.upstream.requests)
        assert upstream_sees("scripted-gpt", rolled)
    finally:
        stop.set()
        worker.join(60)
    assert statuses and set(statuses) == {200}  # no request failed across both switches
    sent = [r.body.get("model") for r in gateway.upstream.requests[start:]]
    assert "scripted-gpt-2024-12-01" in sent
    assert sent[-1] == "scripted-gpt"
    records = [b for b in gateway.audit_bodies(deployment=True) if '"route":"governance"' in b]
    assert any('"outcome":"model_rollback"' in b for b in records)
    assert gateway.verify().ok
