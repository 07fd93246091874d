"""Concurrent requests never fork or break the audit chain."""

from __future__ import annotations

import asyncio
import json
import time

import openai
import pytest
from sqlalchemy import select

from bastion.secrets import DEPLOYMENT
from bastion.store.schema import AuditRecord
from tests.e2e.conftest import Gateway


@pytest.fixture
def gateway_extra_settings() -> dict[str, object]:
    return {"detection": True}


def test_200_concurrent_requests_chain_verifies(gateway: Gateway) -> None:
    """200 concurrent calls (plain and streamed) add exactly 200 records; detection,
    running beside them, appends its alert (200 calls in a window is twice the volume
    a user without a baseline may make) to the same chain: seq 1..201, no fork."""
    before = gateway.audit_count()

    async def run() -> list[str]:
        client = openai.AsyncOpenAI(base_url=gateway.openai_url, api_key=gateway.key, max_retries=0)

        async def one(i: int) -> str:
            if i % 4 == 0:
                stream = await client.chat.completions.create(
                    model="gpt-test",
                    messages=[{"role": "user", "content": f"req {i}"}],
                    stream=True,
                )
                return "".join(
                    [c.choices[0].delta.content or "" async for c in stream if c.choices]
                )
            reply = await client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": f"req {i}"}]
            )
            return reply.choices[0].message.content or ""

        try:
            return await asyncio.gather(*(one(i) for i in range(200)))
        finally:
            await client.close()

    replies = asyncio.run(run())
    assert sorted(replies) == sorted(f"Happy to help. You said: req {i}" for i in range(200))
    deadline = time.monotonic() + 30
    while gateway.audit_count() < before + 201 and time.monotonic() < deadline:
        time.sleep(0.05)
    records = [json.loads(body) for body in gateway.audit_bodies()]
    assert len([r for r in records if r["route"] != "alert"]) == before + 200
    assert [r["outcome"] for r in records if r["route"] == "alert"] == ["alert_query_volume"]
    with gateway.engine.connect() as conn:
        tenant_seqs = (
            select(AuditRecord.seq)
            .where(AuditRecord.tenant_id != DEPLOYMENT)  # the acme tenant's chain
            .order_by(AuditRecord.seq)
        )
        seqs = list(conn.execute(tenant_seqs).scalars())
    assert seqs == list(range(1, before + 202))
    report = gateway.verify()
    assert report.ok


def test_client_disconnect_mid_stream_is_recorded(gateway: Gateway) -> None:
    """A client that hangs up mid-stream leaves one complete record, and the chain holds."""
    import json

    before = gateway.audit_count()
    long_text = "All quiet on the network today. " * 900  # ~29 KB, thousands of events
    gateway.hang_up_mid_stream(long_text)
    assert gateway.audit_count() == before + 1
    record = json.loads(gateway.audit_bodies()[-1])
    assert record["outcome"] == "client_disconnected"
    assert len(record["response"][0]) < len(long_text)
    assert gateway.verify().ok
