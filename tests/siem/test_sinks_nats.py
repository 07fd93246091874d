"""NatsSink against a real NATS server with JetStream: every publish acknowledged,
re-sent batches stored once, and a server killed mid-stream loses nothing."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest
from nats.aio.client import Client

from bastion.siem import NatsSink, SinkError
from bastion.siem.nats_sink import check_subject
from tests.conftest import need_service
from tests.ports import free_port
from tests.siem.records import MARKER, blocked, chat_event, exported
from tests.siem.rsyslog_server import port_open

NATS_URL = "nats://127.0.0.1:4222"
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


@dataclass(frozen=True)
class Stream:
    name: str
    subject: str


def records(count: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        exported(chat_event(request_id=f"req-{seq:05d}"), seq=seq)
        for seq in range(start, start + count)
    ]


async def new_stream(client: Client) -> Stream:
    tag = uuid.uuid4().hex[:12]
    stream = Stream(name=f"BASTION_T_{tag}", subject=f"bastion.test.{tag}")
    await client.jetstream().add_stream(name=stream.name, subjects=[stream.subject])
    return stream


async def stored(client: Client, stream: Stream) -> list[tuple[dict[str, Any], str | None]]:
    """Every message in the stream: (payload as JSON, Nats-Msg-Id header)."""
    jsm = client.jsm()
    info = await jsm.stream_info(stream.name)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await jsm.get_msg(stream.name, seq)
        assert msg.data is not None
        out.append((orjson.loads(msg.data), (msg.headers or {}).get("Nats-Msg-Id")))
    return out


@pytest.fixture
async def nats_client() -> AsyncIterator[Client]:
    available = await asyncio.to_thread(port_open, 4222)
    need_service("NATS at 127.0.0.1:4222", available)
    client = await nats.connect(NATS_URL, connect_timeout=5, max_reconnect_attempts=0)
    yield client
    await client.close()


@pytest.fixture
async def stream(nats_client: Client) -> AsyncIterator[Stream]:
    created = await new_stream(nats_client)
    yield created
    await nats_client.jsm().delete_stream(created.name)


async def test_every_record_is_acknowledged_and_stored(nats_client: Client, stream: Stream) -> None:
    """deliver returns once the stream holds every record, in order, with its hash as
    the message id, and no content."""
    batch = [*records(40), blocked()]
    sink = NatsSink(NATS_URL, stream.subject, stream=stream.name)
    await sink.deliver(batch)
    await sink.aclose()
    messages = await stored(nats_client, stream)
    assert [m["hash"] for m, _ in messages] == [r["hash"] for r in batch]
    assert [msg_id for _, msg_id in messages] == [r["hash"] for r in batch]
    assert messages[-1][0]["outcome"] == "blocked_output"
    assert all("prompt" not in m and MARKER not in orjson.dumps(m).decode() for m, _ in messages)


async def test_a_resent_batch_is_stored_once(nats_client: Client, stream: Stream) -> None:
    """The exporter's retry sends a batch again, partly overlapping: JetStream keeps
    one message per record hash."""
    batch = records(30)
    sink = NatsSink([NATS_URL], stream.subject)
    await sink.deliver(batch)
    await sink.deliver(batch)
    await sink.deliver(batch[20:] + records(10, start=31))
    await sink.aclose()
    info = await nats_client.jsm().stream_info(stream.name)
    assert info.state.messages == 40
    assert [m["seq"] for m, _ in await stored(nats_client, stream)] == list(range(1, 41))


async def test_a_refused_record_keeps_its_message_id(nats_client: Client, stream: Stream) -> None:
    """A record safe_record refuses is stored as export_refused, deduplicated by its
    hash like any other."""
    bad = {**records(1)[0], "seq": "one"}
    sink = NatsSink(NATS_URL, stream.subject)
    await sink.deliver([bad])
    await sink.deliver([bad])
    await sink.aclose()
    [(event, msg_id)] = await stored(nats_client, stream)
    assert event["outcome"] == "export_refused"
    assert event["extra"] == {"refused_field": "seq"}
    assert msg_id == bad["hash"] == event["hash"]


@pytest.mark.parametrize("format", ["cef", "ocsf", "syslog"])
async def test_other_formats(nats_client: Client, stream: Stream, format: Any) -> None:
    """Each format is the message payload, with the hash inside."""
    batch = records(3)
    sink = NatsSink(NATS_URL, stream.subject, format=format, hostname="gw1")
    await sink.deliver(batch)
    await sink.aclose()
    jsm = nats_client.jsm()
    for seq, record in enumerate(batch, start=1):
        data = (await jsm.get_msg(stream.name, seq)).data
        assert data is not None and record["hash"] in data.decode()


async def test_no_stream_for_the_subject_fails(nats_client: Client, stream: Stream) -> None:
    """Nothing stores the subject: SinkError naming the destination, not the record."""
    batch = records(1)
    sink = NatsSink(NATS_URL, f"bastion.nostream.{uuid.uuid4().hex}", ack_timeout=5)
    with pytest.raises(SinkError, match="publish failed: NoStreamResponseError") as caught:
        await sink.deliver(batch)
    assert batch[0]["hash"] not in str(caught.value)


async def test_a_stream_mismatch_fails(nats_client: Client, stream: Stream) -> None:
    """The expected stream does not hold the subject: refused by JetStream."""
    sink = NatsSink(NATS_URL, stream.subject, stream="BASTION_NOT_THIS_ONE", ack_timeout=5)
    with pytest.raises(SinkError, match="10060: expected stream does not match"):
        await sink.deliver(records(1))
    info = await nats_client.jsm().stream_info(stream.name)
    assert info.state.messages == 0


async def test_server_down_raises() -> None:
    """No server: SinkError; the URL's password appears nowhere."""
    port = free_port()
    sink = NatsSink(f"nats://bastion:s3cret@127.0.0.1:{port}", "bastion.audit", connect_timeout=2)
    assert "s3cret" not in sink.name and "s3cret" not in repr(sink)
    with pytest.raises(SinkError, match=f"nats://127.0.0.1:{port}/bastion.audit: connect") as e:
        await sink.deliver(records(1))
    assert "s3cret" not in str(e.value)


@pytest.mark.parametrize(
    ("subject", "ok"),
    [
        ("bastion.audit", True),
        ("bastion.audit.acme-corp_1", True),
        ("audit", True),
        ("bastion.*", False),
        ("bastion.>", False),
        ("bastion.a*b", False),
        ("bastion..audit", False),
        (".bastion", False),
        ("bastion.", False),
        ("bastion audit", False),
        ("bastion.\taudit", False),
        ("bastion.audité", False),
        ("", False),
        ("a" * 256, False),
    ],
)
def test_subjects_are_validated(subject: str, ok: bool) -> None:
    """Only literal subjects of printable ASCII tokens: no wildcards, no spaces."""
    if ok:
        assert check_subject(subject) == subject
        NatsSink(NATS_URL, subject)
    else:
        with pytest.raises(ValueError, match="NATS subject"):
            NatsSink(NATS_URL, subject)


class NatsServer:
    """Our own nats-server with JetStream, its store in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js"]
        command += ["-sd", str(self.directory / "store")]
        with (self.directory / "nats.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log)
        for _ in range(200):
            if self.process.poll() is not None:
                raise RuntimeError("nats-server exited")
            if port_open(self.port):
                return
            subprocess.run(["sleep", "0.05"], check=True)
        raise RuntimeError("nats-server did not listen")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=20)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    need_service("nats-server", Path(NATS_SERVER).exists())
    server = NatsServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.mark.slow
async def test_server_killed_mid_stream_loses_nothing(nats_server: NatsServer) -> None:
    """nats-server killed (SIGKILL) and started again on the same store while batches
    flow: with the exporter's retry loop every record is in the stream."""
    url = f"nats://127.0.0.1:{nats_server.port}"
    admin = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    stream = await new_stream(admin)
    await admin.close()
    sink = NatsSink(url, stream.subject, stream=stream.name, connect_timeout=2, ack_timeout=2)
    batches = [records(200, start=1 + 200 * i) for i in range(12)]
    killed = asyncio.Event()
    failures = 0

    async def bounce() -> None:
        await asyncio.to_thread(nats_server.kill)
        killed.set()
        await asyncio.sleep(0.3)
        await asyncio.to_thread(nats_server.start)

    for index, batch in enumerate(batches):
        if index in (2, 7):  # kill while batches 2 and 3 are being published
            killed.clear()
            bouncing = asyncio.create_task(bounce())
        if index in (4, 9):  # and publish batch 4 while the server is down
            async with asyncio.timeout(60):
                await killed.wait()
        for _ in range(400):
            try:
                await sink.deliver(batch)
                break
            except SinkError:
                failures += 1
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("batch never delivered")
        if index in (4, 9):
            await bouncing
    await sink.aclose()
    admin = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        messages = await stored(admin, stream)
    finally:
        await admin.close()
    assert failures >= 2  # the server was down twice mid-stream
    sent = {r["hash"] for batch in batches for r in batch}
    assert {m["hash"] for m, _ in messages} == sent
