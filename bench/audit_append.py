"""Audit append throughput: group commit against one transaction per record.

For each backend (SQLite in a temporary file, PostgreSQL in a fresh database at
``BASTION_BENCH_PG_URL``) and each number of concurrent appenders (1, 32, 256), runs
``AuditLog(batch_max=256)`` (group commit) and ``AuditLog(batch_max=1)`` (the
baseline: one transaction per record), each on a fresh migrated database, with a
~1 KB prompt per record across 4 tenants. Every run is checked with
``verify_chain`` afterwards (not timed). Prints appends/s and ends with one
``RESULT`` line.

    python bench/audit_append.py [--backend sqlite|postgres|both] [--appends N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from bastion.audit import AuditEvent, AuditLog, verify_chain
from bastion.store import make_engine, upgrade

PG_ADMIN_URL = os.environ.get(
    "BASTION_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PROMPT = ("Summarise the attached quarterly operations notes for the review board. " * 15)[:1024]
T0 = datetime(2025, 1, 1, tzinfo=UTC)
CONCURRENCY = (1, 32, 256)


def event(i: int) -> AuditEvent:
    return AuditEvent(
        ts=T0 + timedelta(milliseconds=i),
        request_id=f"bench-{i:08d}",
        tenant_id=f"tenant-{i % 4}",
        user_id="user-1",
        key_id="key-1",
        model="gpt-bench",
        route="/v1/chat/completions",
        outcome="allowed",
        prompt=[{"role": "user", "content": PROMPT}],
        response="A short answer of a few words.",
        verdicts=[
            {
                "stage": "input",
                "scanner": "size",
                "decision": "allow",
                "score": 0.0,
                "reason": "ok",
                "findings": [],
            }
        ],
        latency_ms=42.0,
    )


@contextmanager
def fresh_database(backend: str) -> Iterator[Engine]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
            upgrade(engine)
            try:
                yield engine
            finally:
                engine.dispose()
        return
    name = f"bastion_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def run(engine: Engine, concurrency: int, appends: int, batch_max: int) -> float:
    events = [event(i) for i in range(appends)]
    async with AuditLog(engine, batch_max=batch_max) as log:

        async def appender(worker: int) -> None:
            for item in events[worker::concurrency]:
                await log.append(item)

        started = time.perf_counter()
        await asyncio.gather(*(appender(w) for w in range(concurrency)))
        elapsed = time.perf_counter() - started
    report = verify_chain(engine)
    if not report.ok or sum(r.count for r in report.tenants.values()) != appends:
        raise SystemExit(f"chain check failed after the run: {report.failures}")
    return appends / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--appends", type=int, default=4000, help="records per run")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: dict[str, float] = {}
    print(f"{'backend':<9} {'appenders':>9} {'group/s':>10} {'1-per-txn/s':>12} {'ratio':>7}")
    for backend in backends:
        short = "pg" if backend == "postgres" else backend
        for concurrency in CONCURRENCY:
            rates = {}
            for label, batch_max in (("group", 256), ("base", 1)):
                # The baseline at high concurrency is slow; fewer records keep it short.
                count = args.appends if label == "group" else max(500, args.appends // 4)
                with fresh_database(backend) as engine:
                    rates[label] = asyncio.run(run(engine, concurrency, count, batch_max))
            results[f"{short}_c{concurrency}"] = rates["group"]
            results[f"{short}_base_c{concurrency}"] = rates["base"]
            print(
                f"{backend:<9} {concurrency:>9} {rates['group']:>10.0f} "
                f"{rates['base']:>12.0f} {rates['group'] / rates['base']:>6.1f}x",
                flush=True,
            )
    print("RESULT " + " ".join(f"{key}={value:.0f}" for key, value in results.items()))


if __name__ == "__main__":
    sys.exit(main())
