"""SyslogSink against a real rsyslogd: records arrive whole over TCP and TLS, TLS
verifies the server, and a receiver restarted mid-stream loses nothing."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from bastion.siem import SinkError, SyslogSink
from tests.conftest import need_service
from tests.ports import free_port
from tests.siem.records import MARKER, blocked, chat_event, exported
from tests.siem.rsyslog_server import (
    Rsyslog,
    TlsFiles,
    make_tls_files,
    rsyslog_available,
)

_PARAM = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


@pytest.fixture(autouse=True)
def _need_rsyslog() -> None:
    need_service("rsyslogd (with rsyslog-gnutls)", rsyslog_available())


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    return make_tls_files(tmp_path / "tls")


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    server = Rsyslog(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def rsyslog_tls(tmp_path: Path, tls_files: TlsFiles) -> Iterator[Rsyslog]:
    server = Rsyslog(tmp_path, tls=tls_files)
    server.start()
    yield server
    server.stop()


def records(count: int, start: int = 1) -> list[dict[str, Any]]:
    """``count`` exported records with distinct seq, request id and hash."""
    return [
        exported(chat_event(request_id=f"req-{seq:05d}"), seq=seq)
        for seq in range(start, start + count)
    ]


def sd_params(line: str) -> dict[str, str]:
    """The ``bastion@32473`` structured-data parameters of one received message."""
    element = line.split(" [bastion@32473 ", 1)[1]
    return {k: re.sub(r"\\(.)", r"\1", v) for k, v in _PARAM.findall(element.split("] ", 1)[0])}


def body(line: str) -> str:
    """MSG of a received RFC 5424 message without structured data."""
    return line.split(" ", 7)[7]


def hashes(lines: list[str]) -> set[str]:
    return set(re.findall(r"[0-9a-f]{64}", "\n".join(lines)))


async def deliver_with_retry(sink: SyslogSink, batch: list[dict[str, Any]]) -> int:
    """Deliver as the exporter does: the same batch again until it is confirmed;
    returns the number of failed attempts."""
    for failures in range(400):
        try:
            await sink.deliver(batch)
        except SinkError:
            await asyncio.sleep(0.05)
        else:
            return failures
    raise AssertionError("batch never delivered")


async def test_records_arrive_intact_over_tcp(rsyslog: Rsyslog) -> None:
    """Every record arrives once, as RFC 5424 with its fields, and no content."""
    batch = [*records(20), blocked()]
    sink = SyslogSink("127.0.0.1", rsyslog.port, tls=None, hostname="gw1", app_name="bastion")
    await sink.deliver(batch)
    await sink.aclose()
    lines = rsyslog.wait_for_lines(len(batch))
    assert len(lines) == len(batch)
    assert not any(MARKER in line for line in lines)
    for line, record in zip(lines, batch, strict=True):
        header = line.split(" ", 6)
        assert re.fullmatch(r"<1[01][0-9]>1", header[0])  # facility 13 (log audit)
        stamp = "2025-03-14T15:09:26.535897Z"
        assert header[1:6] == [stamp, "gw1", "bastion", "-", record["outcome"]]
        assert header[6].startswith("[bastion@32473 ")
        params = sd_params(line)
        assert params["hash"] == record["hash"]
        assert params["seq"] == str(record["seq"])
        assert params["tenant_id"] == "acme"
        assert params["request_id"] == record["request_id"]
    assert sd_params(lines[-1])["blocked_by"] == "secrets"


async def test_a_refused_record_does_not_block_the_batch(rsyslog: Rsyslog) -> None:
    """A record safe_record refuses goes out as export_refused, with its hash."""
    good, bad, last = records(3)
    bad["latency_ms"] = MARKER
    sink = SyslogSink("127.0.0.1", rsyslog.port, tls=None, hostname="gw1")
    await sink.deliver([good, bad, last])
    lines = rsyslog.wait_for_lines(3)
    assert [sd_params(line)["hash"] for line in lines] == [r["hash"] for r in (good, bad, last)]
    assert sd_params(lines[1])["outcome"] == "export_refused"
    assert 'refused_field="latency_ms"' in lines[1]
    assert not any(MARKER in line for line in lines)


@pytest.mark.parametrize("format", ["jsonl", "ocsf"])
async def test_json_formats_travel_as_the_message(rsyslog: Rsyslog, format: Any) -> None:
    """JSON formats are the MSG of an RFC 5424 message and parse back."""
    batch = records(5)
    sink = SyslogSink("127.0.0.1", rsyslog.port, tls=None, format=format, hostname="gw1")
    await sink.deliver(batch)
    lines = rsyslog.wait_for_lines(len(batch))
    assert len(lines) == len(batch)
    for line, record in zip(lines, batch, strict=True):
        assert line.split(" ", 7)[6] == "-"  # no structured data
        event = orjson.loads(body(line))
        found = event["hash"] if format == "jsonl" else event["metadata"]["uid"]
        assert found == record["hash"]


async def test_cef_travels_as_the_message(rsyslog: Rsyslog) -> None:
    """CEF rides in the MSG with its audit_hash label."""
    batch = records(3)
    sink = SyslogSink("127.0.0.1", rsyslog.port, tls=None, format="cef", hostname="gw1")
    await sink.deliver(batch)
    lines = rsyslog.wait_for_lines(len(batch))
    for line, record in zip(lines, batch, strict=True):
        assert body(line).startswith("CEF:0|Bastion|Gateway|")
        assert f"cs3={record['hash']}" in line


async def test_records_arrive_intact_over_tls(rsyslog_tls: Rsyslog, tls_files: TlsFiles) -> None:
    """TLS with the server's CA and host name verified delivers every record."""
    context = ssl.create_default_context(cafile=str(tls_files.ca))
    batch = records(30)
    for host in ("127.0.0.1", "localhost"):
        sink = SyslogSink(host, rsyslog_tls.port, tls=context, hostname="gw1")
        await sink.deliver(batch)
    lines = rsyslog_tls.wait_for_lines(2 * len(batch))
    assert len(lines) == 2 * len(batch)
    assert [sd_params(line)["hash"] for line in lines] == [r["hash"] for r in batch] * 2


async def test_tls_with_the_wrong_ca_fails(rsyslog_tls: Rsyslog, tmp_path: Path) -> None:
    """A server certificate from another CA is refused; the error names the
    destination and the cause, not the record."""
    other = make_tls_files(tmp_path / "other")
    context = ssl.create_default_context(cafile=str(other.ca))
    sink = SyslogSink("127.0.0.1", rsyslog_tls.port, tls=context, connect_timeout=10)
    batch = records(1)
    with pytest.raises(SinkError) as caught:
        await sink.deliver(batch)
    message = str(caught.value)
    assert f"127.0.0.1:{rsyslog_tls.port}" in message
    assert "SSLCertVerificationError" in message
    assert batch[0]["hash"] not in message and MARKER not in message
    assert rsyslog_tls.lines() == []


async def test_tls_checks_the_host_name(rsyslog_tls: Rsyslog, tls_files: TlsFiles) -> None:
    """The right CA but a name the certificate does not hold: refused."""
    context = ssl.create_default_context(cafile=str(tls_files.ca))
    sink = SyslogSink(
        "127.0.0.1", rsyslog_tls.port, tls=context, server_hostname="siem.example.com"
    )
    with pytest.raises(SinkError, match="TLS handshake failed"):
        await sink.deliver(records(1))


async def test_receiver_down_raises() -> None:
    """Nothing listening: SinkError, not a hang."""
    port = free_port()
    sink = SyslogSink("127.0.0.1", port, tls=None, connect_timeout=5)
    with pytest.raises(SinkError, match=f"127.0.0.1:{port}: connect failed"):
        await sink.deliver(records(1))


async def test_receiver_that_never_reads_times_out() -> None:
    """A listener that accepts nothing and never closes: SinkError after the timeout,
    since nothing confirms the batch."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        sink = SyslogSink("127.0.0.1", port, tls=None, connect_timeout=5, timeout=0.5)
        with pytest.raises(SinkError, match="delivery failed: TimeoutError"):
            await sink.deliver(records(3))


@pytest.mark.slow
@pytest.mark.parametrize("use_tls", [False, True], ids=["tcp", "tls"])
async def test_receiver_restarted_mid_stream_loses_nothing(
    tmp_path: Path, tls_files: TlsFiles, use_tls: bool
) -> None:
    """rsyslogd stopped (SIGTERM) and started again on the same port while batches
    flow: with the exporter's retry loop every record arrives at least once."""
    server = Rsyslog(tmp_path, tls=tls_files if use_tls else None)
    server.start()
    context = ssl.create_default_context(cafile=str(tls_files.ca)) if use_tls else None
    sink = SyslogSink("127.0.0.1", server.port, tls=context, timeout=10)
    batches = [records(300, start=1 + 300 * i) for i in range(16)]
    stopped = asyncio.Event()
    failures = 0

    async def bounce() -> None:
        await asyncio.to_thread(server.stop)
        stopped.set()
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.start)

    try:
        for index, batch in enumerate(batches):
            if index in (3, 9):  # stop while batches 3 and 4 are on their way
                stopped.clear()
                bouncing = asyncio.create_task(bounce())
            if index in (5, 11):  # and send batch 5 while the receiver is down
                async with asyncio.timeout(60):
                    await stopped.wait()
            failures += await deliver_with_retry(sink, batch)
            if index in (5, 11):
                await bouncing
        sent = {r["hash"] for batch in batches for r in batch}
        lines = server.wait_for_lines(len(sent))
    finally:
        server.stop()
    assert failures >= 2  # the receiver was down twice mid-stream
    assert sent <= hashes(lines)
    assert not any(MARKER in line for line in lines)
