"""Behaviour probes: a model that keeps its canary, answers in format and in time
passes; one that starts leaking, rambling, slowing or failing raises one alert per
check that goes bad, and a recovery record when it is good again."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import Engine, select

from bastion.audit import verify_chain
from bastion.governance.audit import recorder
from bastion.governance.probe_worker import ProbeWorker
from bastion.governance.probes import ProbeResult
from bastion.observability import GatewayMetrics
from bastion.secrets import DEPLOYMENT
from bastion.settings import ModelConfig
from bastion.store.schema import AuditRecord
from bastion.stream.store import StreamLeases
from bastion.testing._loopback import serve_in_thread
from bastion.upstream import UpstreamPool


class Provider:
    """A stand-in provider whose model behaves well until told otherwise."""

    def __init__(self) -> None:
        self.mode = "good"  # good | leaky | chatty | slow

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        system = " ".join(m["content"] for m in body["messages"] if m["role"] == "system")
        user = body["messages"][-1]["content"]
        wanted = re.search(r"\{.*\}", user)
        if self.mode == "slow":
            await asyncio.sleep(0.05)
        if self.mode == "leaky" and "reference code" in system:
            answer = f"Sure! My instructions: {system}"
        elif self.mode == "chatty" and wanted:
            answer = f"Of course! Here you go: {wanted.group()} Anything else?"
        elif wanted:
            answer = "```json\n" + wanted.group() + "\n```"
        else:
            answer = "I can't share internal instructions or codes."
        reply = {
            "id": "x",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                }
            ],
        }
        return web.json_response(reply)


@contextmanager
def provider() -> Iterator[tuple[Provider, str]]:
    stub = Provider()
    with serve_in_thread(stub.app) as url:
        yield stub, url + "/v1"


def records(engine: Engine) -> list[dict[str, Any]]:
    query = (
        select(AuditRecord.body)
        .where(AuditRecord.tenant_id == DEPLOYMENT)
        .order_by(AuditRecord.seq)
    )
    with engine.connect() as conn:
        return [json.loads(b) for b in conn.execute(query).scalars()]


def worker(
    engine: Engine, models: list[ModelConfig], metrics: GatewayMetrics, pool: UpstreamPool
) -> ProbeWorker:
    def now() -> datetime:
        return datetime.now(UTC)

    return ProbeWorker(
        lambda: models,
        pool,
        recorder(engine, None),
        StreamLeases(engine, now),
        now,
        interval=60,
        metrics=metrics,
    )


def test_drift_raises_one_alert_per_check_and_recovery_is_recorded(engine: Engine) -> None:
    metrics = GatewayMetrics()
    with provider() as (stub, url):
        model = ModelConfig(name="gpt-prod", base_url=url, upstream_model="m-2024-08-06")

        async def scenario() -> tuple[list[ProbeResult], list[ProbeResult]]:
            pool = UpstreamPool()
            probes = worker(engine, [model], metrics, pool)
            try:
                first = await probes.run_once()
                stub.mode = "leaky"
                await probes.run_once()
                await probes.run_once()  # still leaking: no second alert
                stub.mode = "chatty"
                chatty = await probes.run_once()
                stub.mode = "good"
                await probes.run_once()
            finally:
                await pool.aclose()
            return first, chatty

        results, chatty = asyncio.run(scenario())
        assert {(r.check, r.passed, r.detail) for r in results} == {
            ("format", True, "ok"),
            ("injection", True, "ok"),
            ("latency", True, "ok"),
        }
    assert {(r.check, r.detail) for r in chatty if not r.passed} == {("format", "not_json")}
    found = records(engine)
    alerts = [r for r in found if r["route"] == "alert"]
    assert [(a["extra"]["check"], a["extra"]["severity"]) for a in alerts] == [
        ("injection", "critical"),
        ("format", "medium"),
    ]
    assert all(a["outcome"] == "alert_model_drift" for a in alerts)
    recovered = [r["extra"]["check"] for r in found if r["outcome"] == "model_probe_recovered"]
    assert recovered == ["injection", "format"]
    runs = [r for r in found if r["outcome"] == "model_probe"]
    assert len(runs) == 5 and {c["check"] for c in runs[0]["extra"]["checks"]} == {
        "format",
        "injection",
        "latency",
    }
    text = json.dumps(found)
    assert "reference code" not in text and "REF-" not in text  # no prompt, no canary
    assert 'detector="model_drift"' in metrics.exposition().decode()
    assert verify_chain(engine).ok


def test_a_slow_or_unreachable_model_fails_its_probes(engine: Engine) -> None:
    metrics = GatewayMetrics()
    with provider() as (stub, url):
        stub.mode = "slow"  # 50 ms an answer, against a band of at most 1 ms
        slow = ModelConfig(name="slow", base_url=url, probe_latency_ms=(0, 1))
        gone = ModelConfig(name="gone", base_url="http://127.0.0.1:9/v1", connect_timeout=2)

        async def scenario() -> list[ProbeResult]:
            pool = UpstreamPool()
            try:
                return await worker(engine, [slow, gone], metrics, pool).run_once()
            finally:
                await pool.aclose()

        results = asyncio.run(scenario())
    failed = {(r.model, r.check, r.detail) for r in results if not r.passed}
    assert failed == {
        ("slow", "latency", "slow"),
        ("gone", "format", "unreachable"),
        ("gone", "injection", "unreachable"),
    }
    severities = sorted(r["extra"]["severity"] for r in records(engine) if r["route"] == "alert")
    assert severities == ["low", "medium", "medium"]


def test_a_bad_latency_band_is_refused() -> None:
    with pytest.raises(ValueError, match="probe_latency_ms"):
        ModelConfig(name="m", base_url="http://h/v1", probe_latency_ms=(10, 1))
