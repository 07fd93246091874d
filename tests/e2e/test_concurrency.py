"""Concurrent requests never fork or break the audit chain."""

from __future__ import annotations

import asyncio

import openai
from sqlalchemy import select

from bastion.audit import verify_chain
from bastion.store.schema import AuditRecord
from tests.e2e.conftest import Gateway


def test_200_concurrent_requests_chain_verifies(gateway: Gateway) -> None:
    """200 concurrent calls (plain and streamed) add exactly 200 records, seq 1..200."""
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
    assert gateway.audit_count() == before + 200
    with gateway.engine.connect() as conn:
        seqs = list(conn.execute(select(AuditRecord.seq).order_by(AuditRecord.seq)).scalars())
    assert seqs == list(range(1, before + 201))
    report = verify_chain(gateway.engine)
    assert report.ok
