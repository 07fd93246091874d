"""Gateway overhead: the same stub upstream called directly and through Bastion.

Starts the scripted upstream in ``--fixed`` mode (a constant ~1 KB reply) and
``bastion serve`` on SQLite with the default policy (every scanner of the core on,
canary on, audit on), then drives both with aiohttp at concurrency 1 and 32, plain
and streaming, with a ~1 KB prompt. Prints p50/p99 latency, requests/s and the
ratios, and ends with one ``RESULT`` line.

    python bench/gateway_overhead.py [--quick] [--workers N] [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

PROMPT = ("Summarise the attached quarterly operations notes for the security review board. " * 13)[
    :1024
]


def app_role_url(owner_url: str, role: str) -> str:
    """Create ``role`` (LOGIN, in bastion_app) if missing; its URL for the same database.

    The gateway then runs as it must in production: held to one tenant per
    transaction by row-level security, not as the tables' owner.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(owner_url.replace("postgresql://", "postgresql+psycopg://", 1))
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        if exists.first() is None:
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN IN ROLE bastion_app'))
    engine.dispose()
    return url.set(username=role, password=None).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Run:
    label: str
    latencies_ms: list[float]
    seconds: float

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        return self.pct(0.99)


async def drive(
    url: str, key: str | None, n: int, concurrency: int, stream: bool, label: str
) -> Run:
    body = orjson.dumps(
        {
            "model": "bench-model",
            "messages": [{"role": "user", "content": PROMPT}],
            "stream": stream,
        }
    )
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    latencies: list[float] = []
    remaining = n
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as resp:
                payload = await resp.read()
                if resp.status != 200 or (stream and b"[DONE]" not in payload):
                    raise RuntimeError(f"{label}: HTTP {resp.status}: {payload[:200]!r}")
            latencies.append((time.perf_counter() - t0) * 1000)

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await one()

        for _ in range(min(20, n)):  # warm the connection pool and caches
            await one()
        latencies.clear()
        remaining = n
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return Run(label, latencies, seconds)


def measure(direct: str, via: str, key: str, n1: int, n32: int, rounds: int) -> dict[str, Run]:
    """Alternate direct and Bastion runs in ``rounds`` so drift hits both alike."""
    plan = [
        ("c1", 1, False, n1),
        ("c32", 32, False, n32),
        ("stream_c1", 1, True, n1 // 2),
    ]
    runs: dict[str, Run] = {}
    for _ in range(rounds):
        for name, concurrency, stream, n in plan:
            for side, url, side_key in (("direct", direct, None), ("bastion", via, key)):
                label = f"{side}_{name}"
                run = asyncio.run(
                    drive(url, side_key, max(1, n // rounds), concurrency, stream, label)
                )
                if label in runs:
                    runs[label].latencies_ms += run.latencies_ms
                    runs[label].seconds += run.seconds
                else:
                    runs[label] = run
    return runs


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    async def probe() -> bool:
        try:
            async with aiohttp.ClientSession() as s, s.get(url) as r:
                return r.status < 500
        except aiohttp.ClientError:
            return False

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}")
        if asyncio.run(probe()):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, < 30 s")
    parser.add_argument("--workers", type=int, default=1, help="Bastion worker processes")
    parser.add_argument("--requests", type=int, default=None, help="requests per run")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds")
    parser.add_argument(
        "--database-url",
        default=None,
        help="run Bastion on this database (e.g. postgresql+psycopg://...); default SQLite",
    )
    parser.add_argument(
        "--app-role",
        default="bastion_bench",
        help="PostgreSQL: the login role (member of bastion_app) the gateway connects as; "
        "--database-url is then the owner's connection, used for init",
    )
    parser.add_argument(
        "--sqlite-synchronous",
        choices=["full", "normal"],
        default="full",
        help="SQLite durability (BASTION_SQLITE_SYNCHRONOUS); full is the default",
    )
    args = parser.parse_args()
    n1 = args.requests or (400 if args.quick else 2000)
    n32 = args.requests or (1500 if args.quick else 6000)
    args.rounds = args.rounds or (3 if args.quick else 5)

    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="bastion-bench-") as tmp:
        data = Path(tmp)
        stub_port, gw_port = free_port(), free_port()
        (data / "kek").write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        (data / "bastion.toml").write_text(
            f'[[models]]\nname = "bench-model"\nbase_url = "http://127.0.0.1:{stub_port}/v1"\n'
        )
        env = {
            **os.environ,
            "BASTION_DATA_DIR": str(data),
            "BASTION_CONFIG_FILE": str(data / "bastion.toml"),
            "BASTION_WORKERS": str(args.workers),
            "BASTION_LOG_LEVEL": "warning",
            "BASTION_SQLITE_SYNCHRONOUS": args.sqlite_synchronous,
            **({"BASTION_DATABASE_URL": args.database_url} if args.database_url else {}),
        }
        stub = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bastion.testing.scripted_upstream",
                "--fixed",
                "--port",
                str(stub_port),
            ],
            env=env,
        )
        gateway: subprocess.Popen[bytes] | None = None
        try:
            init = subprocess.run(
                [str(bindir / "bastion"), "init", "--tenant", "bench"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            key = init.stdout.strip().splitlines()[-1]
            if args.database_url and args.database_url.startswith("postgresql"):
                env["BASTION_DATABASE_ADMIN_URL"] = args.database_url
                env["BASTION_DATABASE_URL"] = app_role_url(args.database_url, args.app_role)
            gateway = subprocess.Popen(
                [str(bindir / "bastion"), "serve", "--port", str(gw_port)], env=env
            )
            wait_http(f"http://127.0.0.1:{stub_port}/v1/models", stub)
            wait_http(f"http://127.0.0.1:{gw_port}/healthz", gateway)
            direct = f"http://127.0.0.1:{stub_port}/v1/chat/completions"
            via = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
            runs = measure(direct, via, key, n1, n32, args.rounds)
        finally:
            for proc in (gateway, stub):
                if proc is not None:
                    proc.terminate()
                    proc.wait(10)

    print(f"{'run':<20}{'n':>7}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}")
    for name, run in sorted(runs.items(), key=lambda kv: (kv[0].split("_", 1)[1], kv[0])):
        print(
            f"{name:<20}{len(run.latencies_ms):>7}{run.p50:>10.2f}{run.p99:>10.2f}{run.rps:>10.0f}"
        )
    added_p50 = runs["bastion_c1"].p50 - runs["direct_c1"].p50
    added_p99 = runs["bastion_c1"].p99 - runs["direct_c1"].p99
    rps32 = runs["bastion_c32"].rps
    ratio32 = rps32 / runs["direct_c32"].rps
    stream_rps = runs["bastion_stream_c1"].rps
    print(
        f"RESULT added_p50_ms={added_p50:.2f} added_p99_ms={added_p99:.2f} "
        f"rps_c32={rps32:.0f} rps_ratio_c32={ratio32:.3f} "
        f"stream_rps_c1={stream_rps:.0f} workers={args.workers} "
        f"sqlite_synchronous={args.sqlite_synchronous} "
        f"database={'postgresql' if args.database_url else 'sqlite'}"
    )


if __name__ == "__main__":
    main()
