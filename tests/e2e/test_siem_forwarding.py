"""Continuous SIEM forwarding from a real gateway: every audit record reaches a real
rsyslog over TCP and a NATS JetStream stream, although the receiver is stopped and
started again mid-traffic and the gateway itself is restarted (its cursor persisted).
Nothing is lost; the record hash is the dedupe id."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
import pytest
from sqlalchemy import select

from bastion.gateway.app import create_app
from bastion.gateway.runtime import Runtime
from bastion.gateway.server import uvicorn_config
from bastion.identity import IdentityService
from bastion.scanners import ScannerRegistry
from bastion.secrets import DEPLOYMENT
from bastion.store import make_engine
from bastion.store.schema import AuditRecord
from bastion.store.tenancy import maintenance
from bastion.testing.scripted_upstream import ScriptedUpstream
from tests.conftest import need_service
from tests.e2e.conftest import ServerThread, gateway_settings
from tests.ports import free_port
from tests.siem.rsyslog_server import Rsyslog, port_open, rsyslog_available

HASH = re.compile(r'hash="([0-9a-f]{64})"')
NATS_URL = "nats://127.0.0.1:4222"


class Bastion:
    """A gateway that can be stopped and started again on the same database."""

    def __init__(
        self,
        settings_args: dict[str, object],
        db_url: str,
        app_db_url: str,
        registry: ScannerRegistry,
    ) -> None:
        self._args = settings_args
        self._app_db_url = app_db_url
        self._registry = registry
        self.server: ServerThread | None = None
        self.engine = maintenance(make_engine(db_url))
        identity = IdentityService(self.engine)
        now = datetime.now(UTC)
        identity.ensure_tenant("acme", now)
        self.key = identity.create_key("acme", "alice@acme.test", now, name="siem").secret

    def start(self) -> str:
        port = free_port()
        settings = gateway_settings(port=port, **self._args)  # type: ignore[arg-type]
        runtime = Runtime.build(
            settings, engine=make_engine(self._app_db_url), registry=self._registry
        )
        self.server = ServerThread(uvicorn_config(settings, app=create_app(runtime)))
        self.server.start()
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def deployment_records(self) -> int:
        query = select(AuditRecord.hash).where(AuditRecord.tenant_id == DEPLOYMENT)
        with self.engine.connect() as conn:
            return len(conn.execute(query).all())

    def hashes(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(AuditRecord.hash).order_by(AuditRecord.id)).scalars())


async def _new_stream() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:12]
    name, subject = f"BASTION_E2E_{tag}", f"bastion.e2e.{tag}"
    client = await nats.connect(NATS_URL, connect_timeout=5, max_reconnect_attempts=0)
    try:
        await client.jetstream().add_stream(name=name, subjects=[subject])
    finally:
        await client.close()
    return name, subject


async def _stored_ids(stream: str) -> list[str]:
    client = await nats.connect(NATS_URL, connect_timeout=5, max_reconnect_attempts=0)
    try:
        jsm = client.jsm()
        info = await jsm.stream_info(stream)
        ids = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await jsm.get_msg(stream, seq)
            ids.append((msg.headers or {}).get("Nats-Msg-Id", ""))
        return ids
    finally:
        await client.close()


async def _delete_stream(stream: str) -> None:
    client = await nats.connect(NATS_URL, connect_timeout=5, max_reconnect_attempts=0)
    try:
        await client.jsm().delete_stream(stream)
    finally:
        await client.close()


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[tuple[Rsyslog, str, str]]:
    need_service("rsyslogd (with rsyslog-gnutls)", rsyslog_available())
    need_service("NATS at 127.0.0.1:4222", port_open(4222))
    syslog_dir = tmp_path / "rsyslog"
    syslog_dir.mkdir()
    rsyslog = Rsyslog(syslog_dir)
    rsyslog.start()
    stream, subject = asyncio.run(_new_stream())
    try:
        yield rsyslog, stream, subject
    finally:
        rsyslog.stop()
        asyncio.run(_delete_stream(stream))


def chat(base_url: str, key: str, n: int, tag: str) -> None:
    with httpx.Client(
        base_url=base_url, headers={"authorization": f"Bearer {key}"}, timeout=30
    ) as http:
        for i in range(n):
            response = http.post(
                "/v1/chat/completions",
                json={"model": "gpt-test", "messages": [{"role": "user", "content": f"{tag} {i}"}]},
            )
            assert response.status_code == 200


def received(rsyslog: Rsyslog) -> set[str]:
    return {m.group(1) for line in rsyslog.lines() for m in HASH.finditer(line)}


def wait_until(check: object, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen")


def test_forwarding_survives_receiver_and_gateway_restarts(
    db_url: str,
    app_db_url: str,
    tmp_path: Path,
    scripted: ScriptedUpstream,
    scanner_registry: ScannerRegistry,
    receivers: tuple[Rsyslog, str, str],
) -> None:
    rsyslog, stream, subject = receivers
    sinks = [
        {"name": "soc", "kind": "syslog", "host": "127.0.0.1", "port": rsyslog.port},
        {"name": "bus", "kind": "nats", "servers": [NATS_URL], "subject": subject},
    ]
    args: dict[str, object] = {
        "db_url": app_db_url,
        "upstream": scripted,
        "data_dir": tmp_path,
        "database_admin_url": db_url,
        "siem_sinks": sinks,
        "stream_poll_seconds": 0.2,
    }
    bastion = Bastion(args, db_url, app_db_url, scanner_registry)
    try:
        url = bastion.start()
        chat(url, bastion.key, 10, "first")
        wait_until(lambda: len(received(rsyslog)) >= 10, "the first records reaching rsyslog")

        rsyslog.stop()  # the receiver goes away while traffic goes on
        chat(url, bastion.key, 10, "while the receiver is down")
        bastion.stop()  # and Bastion restarts before it comes back
        url = bastion.start()
        chat(url, bastion.key, 5, "after the restart")
        rsyslog.start()
        chat(url, bastion.key, 5, "after both")

        chain = bastion.hashes()  # the deployment's chain (model registry) goes too
        assert len(chain) == 30 + bastion.deployment_records()
        wait_until(lambda: received(rsyslog) >= set(chain), "every record reaching rsyslog")
        wait_until(
            lambda: set(asyncio.run(_stored_ids(stream))) >= set(chain),
            "every record reaching JetStream",
        )
        ids = asyncio.run(_stored_ids(stream))
        assert len(ids) == len(set(ids)) == len(chain)  # JetStream dropped any re-sent one
        for secret in ("first 0", "after both", bastion.key):
            assert secret not in rsyslog.output.read_text()
    finally:
        bastion.stop()
        bastion.engine.dispose()
