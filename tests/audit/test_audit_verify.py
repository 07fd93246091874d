"""The verifier catches every kind of tampering and names the first bad record."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, delete, insert, select, update

from bastion.audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditLog,
    SealedContentError,
    record_hash,
    verify_chain,
)
from bastion.store.schema import AuditHead, AuditRecord

EventFactory = Callable[..., AuditEvent]
TENANT = "victim"
BYSTANDER = "bystander"
LENGTH = 6
FORGED = "forged-request"


def req(seq: int) -> str:
    """The request id the victim's record number ``seq`` was written with."""
    return f"req-{TENANT}-{seq:05d}"


@pytest.fixture
async def hashes(engine: Engine, make_event: EventFactory) -> dict[int, str]:
    """Six records for the victim and three for a bystander; the victim's hashes by seq."""
    async with AuditLog(engine) as log:
        receipts = [await log.append(make_event(i, tenant=TENANT)) for i in range(1, LENGTH + 1)]
        await asyncio.gather(*(log.append(make_event(i, tenant=BYSTANDER)) for i in range(3)))
    return {receipt.seq: receipt.hash for receipt in receipts}


@dataclass(frozen=True)
class Attack:
    """What is done to the victim's chain, and what the verifier must say."""

    name: str
    tamper: Callable[[Connection, dict[int, str]], None]
    problem: str
    seq: int
    request_id: str | None


def _where(seq: int) -> tuple[object, ...]:
    return (AuditRecord.tenant_id == TENANT, AuditRecord.seq == seq)


def _set(conn: Connection, at: int, **values: object) -> None:
    conn.execute(update(AuditRecord).where(*_where(at)).values(**values))


def _get(conn: Connection, seq: int) -> dict[str, object]:
    columns = (
        AuditRecord.ts,
        AuditRecord.request_id,
        AuditRecord.outcome,
        AuditRecord.body,
        AuditRecord.prev_hash,
    )
    return dict(conn.execute(select(*columns).where(*_where(seq))).one()._mapping)


def _drop(conn: Connection, seq: int) -> None:
    conn.execute(delete(AuditRecord).where(*_where(seq)))


def _renumber(conn: Connection, moves: dict[int, int]) -> None:
    """Change seq numbers in two steps so the unique (tenant, seq) never trips."""
    for old in moves:
        _set(conn, old, seq=-old)
    for old, new in moves.items():
        _set(conn, -old, seq=new)


def _shift_from(conn: Connection, seq: int) -> None:
    _renumber(conn, {old: old + 1 for old in range(seq, LENGTH + 1)})


def _forge(conn: Connection, seq: int, prev_hash: str) -> None:
    """Insert a self-consistent record (valid hash) at ``seq`` that links to ``prev_hash``."""
    genuine = _get(conn, 3)  # whatever its content, a template that exists in every attack
    body = str(genuine["body"]).replace(str(genuine["request_id"]), FORGED)
    conn.execute(
        insert(AuditRecord).values(
            tenant_id=TENANT,
            seq=seq,
            ts=genuine["ts"],
            request_id=FORGED,
            outcome=genuine["outcome"],
            body=body,
            prev_hash=prev_hash,
            hash=record_hash(TENANT, seq, prev_hash, body),
        )
    )


def _edit_body(conn: Connection, _: dict[int, str]) -> None:
    body = str(_get(conn, 3)["body"]).replace("question 3", "question X")
    _set(conn, 3, body=body)


def _edit_and_rehash(conn: Connection, _: dict[int, str]) -> None:
    row = _get(conn, 3)
    body = str(row["body"]).replace("question 3", "question X")
    _set(conn, 3, body=body, hash=record_hash(TENANT, 3, str(row["prev_hash"]), body))


def _swap(conn: Connection, columns: tuple[str, ...]) -> None:
    third, fourth = _get(conn, 3), _get(conn, 4)
    _set(conn, 3, **{c: fourth[c] for c in columns})
    _set(conn, 4, **{c: third[c] for c in columns})


def _move_to_other_tenant(conn: Connection, _: dict[int, str]) -> None:
    conn.execute(update(AuditRecord).where(*_where(3)).values(tenant_id="elsewhere"))


def _drop_two(conn: Connection, _: dict[int, str]) -> None:
    _drop(conn, 3)
    _drop(conn, 4)


def _drop_tenant(conn: Connection, _: dict[int, str]) -> None:
    conn.execute(delete(AuditRecord).where(AuditRecord.tenant_id == TENANT))


def _insert_linked(conn: Connection, hashes: dict[int, str]) -> None:
    _shift_from(conn, 4)
    _forge(conn, 4, hashes[3])


def _insert_unlinked(conn: Connection, _: dict[int, str]) -> None:
    _shift_from(conn, 4)
    _forge(conn, 4, "c" * 64)


def _insert_first(conn: Connection, _: dict[int, str]) -> None:
    _shift_from(conn, 1)
    _forge(conn, 1, GENESIS_HASH)


def _drop_head(conn: Connection, _: dict[int, str]) -> None:
    conn.execute(delete(AuditHead).where(AuditHead.tenant_id == TENANT))


def _set_head(conn: Connection, **values: object) -> None:
    conn.execute(update(AuditHead).where(AuditHead.tenant_id == TENANT).values(**values))


def _later_ts(conn: Connection, _: dict[int, str]) -> None:
    ts = _get(conn, 3)["ts"]
    assert not isinstance(ts, str | int | None)
    _set(conn, 3, ts=ts + timedelta(microseconds=1))


ATTACKS = [
    Attack("edit body", _edit_body, "modified", 3, req(3)),
    Attack(
        "edit outcome column",
        lambda c, _: _set(c, 3, outcome="blocked_input"),
        "modified",
        3,
        req(3),
    ),
    Attack("edit ts column", _later_ts, "modified", 3, req(3)),
    Attack(
        "edit request_id column",
        lambda c, _: _set(c, 3, request_id="other"),
        "modified",
        3,
        "other",
    ),
    Attack(
        "edit prev_hash column", lambda c, _: _set(c, 3, prev_hash="a" * 64), "modified", 3, req(3)
    ),
    Attack("edit hash column", lambda c, _: _set(c, 3, hash="b" * 64), "modified", 3, req(3)),
    Attack("edit body and recompute its hash", _edit_and_rehash, "modified", 3, req(3)),
    Attack("edit seq column", lambda c, _: _renumber(c, {6: 9}), "modified", 6, req(6)),
    Attack("delete middle", lambda c, _: _drop(c, 3), "deleted", 3, req(4)),
    Attack(
        "delete two in the middle",
        _drop_two,
        "deleted",
        3,
        req(5),
    ),
    Attack("delete first", lambda c, _: _drop(c, 1), "deleted", 1, req(2)),
    Attack("move to another tenant", _move_to_other_tenant, "deleted", 3, req(4)),
    Attack("delete last", lambda c, _: _drop(c, LENGTH), "truncated", LENGTH, None),
    Attack(
        "delete all",
        _drop_tenant,
        "truncated",
        1,
        None,
    ),
    Attack(
        "insert linked forgery in the middle",
        _insert_linked,
        "inserted",
        4,
        FORGED,
    ),
    Attack(
        "insert unlinked forgery in the middle",
        _insert_unlinked,
        "inserted",
        4,
        FORGED,
    ),
    Attack(
        "insert forgery first",
        _insert_first,
        "inserted",
        1,
        FORGED,
    ),
    Attack(
        "append forgery after the head",
        lambda c, h: _forge(c, LENGTH + 1, h[LENGTH]),
        "inserted",
        LENGTH + 1,
        FORGED,
    ),
    Attack(
        "swap seq of two records", lambda c, _: _renumber(c, {3: 4, 4: 3}), "reordered", 3, req(4)
    ),
    Attack(
        "swap seq of records two apart",
        lambda c, _: _renumber(c, {3: 5, 5: 3}),
        "reordered",
        3,
        req(5),
    ),
    Attack("swap bodies", lambda c, _: _swap(c, ("body",)), "reordered", 3, req(3)),
    Attack(
        "swap all content columns",
        lambda c, _: _swap(c, ("body", "ts", "request_id", "outcome")),
        "reordered",
        3,
        req(4),
    ),
    Attack(
        "head hash changed",
        lambda c, _: _set_head(c, hash="d" * 64),
        "head_mismatch",
        LENGTH,
        req(LENGTH),
    ),
    Attack(
        "head row deleted",
        _drop_head,
        "head_mismatch",
        LENGTH,
        req(LENGTH),
    ),
]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_tampering_is_named(engine: Engine, hashes: dict[int, str], attack: Attack) -> None:
    """Each kind of tampering fails the victim's chain with the right kind and record."""
    with engine.begin() as conn:
        attack.tamper(conn, hashes)
    report = verify_chain(engine)
    victim = report[TENANT]
    assert (victim.ok, victim.problem, victim.seq, victim.request_id) == (
        False,
        attack.problem,
        attack.seq,
        attack.request_id,
    ), victim.detail
    if attack.request_id is None:
        assert victim.record_id is None
    else:
        with engine.connect() as conn:
            expected_id = conn.execute(
                select(AuditRecord.id).where(AuditRecord.request_id == attack.request_id)
            ).scalar_one()
        assert victim.record_id == expected_id
    assert victim.detail
    assert "question" not in victim.detail
    assert "answer" not in victim.detail
    assert report[BYSTANDER].ok
    assert not report.ok
    summary = report.describe()
    assert attack.problem in summary
    assert "question" not in summary


def test_untouched_chains_verify(engine: Engine, hashes: dict[int, str]) -> None:
    """A chain nobody touched verifies, with counts per tenant."""
    report = verify_chain(engine)
    assert report.ok
    assert report.describe().startswith("audit log ok: 2 tenant(s), 9 record(s)")
    assert {t: r.count for t, r in report.tenants.items()} == {BYSTANDER: 3, TENANT: LENGTH}


def test_one_tenant_can_be_verified_alone(engine: Engine, hashes: dict[int, str]) -> None:
    """verify_chain(tenant_id=...) reports on that tenant only."""
    with engine.begin() as conn:
        _drop(conn, 2)
    assert list(verify_chain(engine, BYSTANDER).tenants) == [BYSTANDER]
    assert verify_chain(engine, BYSTANDER).ok
    assert verify_chain(engine, TENANT)[TENANT].problem == "deleted"


def test_unknown_tenant_is_empty_and_ok(engine: Engine) -> None:
    """A tenant without records or head verifies as an empty chain."""
    report = verify_chain(engine, "nobody")
    assert (report.ok, report["nobody"].count) == (True, 0)


def test_rewriting_the_tail_and_head_goes_unnoticed(engine: Engine, hashes: dict[int, str]) -> None:
    """Documents the limit: re-hashing the tail and the head needs an outside anchor."""
    with engine.begin() as conn:
        row = _get(conn, LENGTH)
        body = str(row["body"]).replace(f"question {LENGTH}", "rewritten")
        digest = record_hash(TENANT, LENGTH, str(row["prev_hash"]), body)
        _set(conn, LENGTH, body=body, hash=digest)
        _set_head(conn, hash=digest)
    assert verify_chain(engine).ok
    assert digest != hashes[LENGTH]  # the receipt the gateway got still proves the edit


def test_sealed_records_without_the_key_stop_cleanly(engine: Engine) -> None:
    """Verification that meets a sealed record with no sealer stops with a clear error
    midway through the records, and gives its connection (and, on PostgreSQL, the
    server-side cursor) back: the next verification on the same engine works."""
    from bastion.audit._chain import PendingRecord, commit_batch
    from bastion.audit.sealing import AuditSealer
    from bastion.crypto import Keyring, LocalKeyProvider
    from bastion.store.tenancy import maintenance
    from tests.audit.conftest import build_event

    keyring = Keyring(engine, LocalKeyProvider(bytes(range(32))), lambda: datetime.now(UTC))
    for i in range(3):  # read first: an open chain, then the sealed tenant's records
        commit_batch(engine, [PendingRecord.from_event(build_event(i, "tenant-a"))], None)
        sealer = AuditSealer(keyring)
        commit_batch(engine, [PendingRecord.from_event(build_event(i, "tenant-b"))], sealer)
    with pytest.raises(SealedContentError, match="BASTION_KEK_FILE"):
        verify_chain(engine)
    assert maintenance(engine).pool.checkedout() == 0 and engine.pool.checkedout() == 0
    report = verify_chain(engine, sealer=AuditSealer(keyring))
    assert report.ok and report["tenant-b"].count == 3
