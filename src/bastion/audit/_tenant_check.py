"""Walk one tenant's records in seq order and name the first thing that is wrong.

Rows arrive ordered by ``(seq, id)``. A row *fits* position ``seq`` after ``prev``
when its ``prev_hash`` is ``prev``, its columns equal its body and
``record_hash(tenant, seq, prev, body)`` equals its stored ``hash``. Each row that
fits the next position is accepted. At the first row that does not fit, a small
window of rows before (accepted) and after (not yet read) tells the kinds apart:

* ``reordered``: a later row fits this position while this row's content is valid
  at another seq, or this row's hash fits the body of a neighbouring row (bodies
  swapped);
* ``inserted``: a self-consistent row does not fit but a later row does (a forged
  record pushed the genuine ones down), or this row is genuine for an earlier
  position whose accepted occupant is therefore forged, or a seq repeats;
* ``deleted``: a seq gap (reported at the first missing seq, with the row found
  after the gap);
* ``modified``: the row's hash or columns do not match its content, its seq column
  was changed, or it is valid on its own but its successor commits to a different
  hash (replaced and re-hashed);
* ``truncated`` / ``head_mismatch``: after the last row, against ``audit_heads``.

Memory is bounded by the window. Rewriting a whole suffix of the chain and the head
is not detectable from the database alone; compare heads with receipts kept elsewhere.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import orjson

from bastion.audit.record import GENESIS_HASH, format_ts, record_hash

__all__ = ["Fault", "Problem", "Row", "check_tenant"]

Problem = Literal["modified", "deleted", "inserted", "reordered", "truncated", "head_mismatch"]


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    seq: int
    ts: datetime
    request_id: str
    outcome: str
    body: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Fault:
    problem: Problem
    seq: int
    record_id: int | None
    request_id: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class _Checked:
    row: Row
    columns_ok: bool
    hash_ok: bool

    @property
    def sound(self) -> bool:
        return self.columns_ok and self.hash_ok


def _columns_ok(tenant_id: str, row: Row) -> bool:
    try:
        body = orjson.loads(row.body)
    except orjson.JSONDecodeError:
        return False
    return (
        isinstance(body, dict)
        and body.get("tenant_id") == tenant_id
        and body.get("request_id") == row.request_id
        and body.get("outcome") == row.outcome
        and body.get("ts") == format_ts(row.ts)
    )


def _fault(problem: Problem, at: Row, detail: str, seq: int | None = None) -> Fault:
    return Fault(problem, at.seq if seq is None else seq, at.id, at.request_id, detail)


class _TenantWalk:
    def __init__(
        self, tenant_id: str, rows: Iterator[Row], head: tuple[int, str] | None, window: int
    ) -> None:
        self.tenant_id = tenant_id
        self.rows = rows
        self.head = head
        self.window = window
        self.ahead: deque[_Checked] = deque()
        self.behind: deque[_Checked] = deque(maxlen=window)
        self.count = 0

    def check(self, row: Row) -> _Checked:
        hash_ok = row.seq >= 1 and (
            record_hash(self.tenant_id, row.seq, row.prev_hash, row.body) == row.hash
        )
        return _Checked(row, _columns_ok(self.tenant_id, row), hash_ok)

    def fits(self, item: _Checked, seq: int, prev: str) -> bool:
        if item.row.prev_hash != prev or not item.columns_ok:
            return False
        if seq == item.row.seq:
            return item.hash_ok
        return record_hash(self.tenant_id, seq, prev, item.row.body) == item.row.hash

    def valid_elsewhere(self, item: _Checked, around: int) -> bool:
        """``item``'s hash is right for some nearby seq other than its stored one."""
        low, high = max(1, around - self.window), around + self.window + 1
        row = item.row
        return any(
            record_hash(self.tenant_id, seq, row.prev_hash, row.body) == row.hash
            for seq in range(low, high)
            if seq != row.seq
        )

    def next(self) -> _Checked | None:
        while len(self.ahead) <= self.window:
            row = next(self.rows, None)
            if row is None:
                break
            self.ahead.append(self.check(row))
        if not self.ahead:
            return None
        self.count += 1
        return self.ahead.popleft()

    def run(self) -> Fault | None:
        seq, prev = 1, GENESIS_HASH
        at_head: _Checked | None = None
        while (item := self.next()) is not None:
            if not (item.row.seq == seq and self.fits(item, seq, prev)):
                fault = self.classify(item, seq, prev)
                self.count += len(self.ahead) + sum(1 for _ in self.rows)
                return fault
            if self.head is not None and seq == self.head[0] + 1:
                at_head = item
            self.behind.append(item)
            seq, prev = seq + 1, item.row.hash
        return self.check_head(seq - 1, prev, at_head)

    def classify(self, item: _Checked, seq: int, prev: str) -> Fault:
        row = item.row
        ahead = list(self.ahead)
        if row.seq != seq and self.fits(item, seq, prev):
            return _fault("modified", row, f"seq column changed from {seq} to {row.seq}", seq)
        for distance, later in enumerate(ahead, start=1):
            if self.fits(later, seq, prev):
                if not item.sound and self.valid_elsewhere(item, seq):
                    return _fault(
                        "reordered",
                        row,
                        f"the record for seq {seq} is stored {distance} row(s) later",
                        seq,
                    )
                return _fault(
                    "inserted",
                    row,
                    f"{distance} record(s) precede the record that fits seq {seq}",
                    seq,
                )
        if not item.hash_ok:
            for later in ahead:
                swapped = record_hash(self.tenant_id, row.seq, row.prev_hash, later.row.body)
                if later.row.body != row.body and swapped == row.hash:
                    return _fault(
                        "reordered",
                        row,
                        f"body of row id {later.row.id} hashes to the hash stored at seq {row.seq}",
                    )
        for back, earlier in enumerate(reversed(self.behind), start=1):
            if self.fits(item, seq - back, earlier.row.prev_hash):
                return _fault(
                    "inserted",
                    earlier.row,
                    f"row id {row.id} is the genuine record for seq {seq - back}",
                )
        if row.seq > seq:
            return _fault(
                "deleted",
                row,
                f"seq {seq}..{row.seq - 1} missing before row id {row.id}",
                seq,
            )
        if row.seq < seq:
            return _fault("inserted", row, f"seq {row.seq} occurs more than once")
        if item.sound and self.behind:
            replaced = self.behind[-1].row
            return _fault(
                "modified",
                replaced,
                f"hash of seq {replaced.seq} is not the one seq {row.seq} commits to",
            )
        if not item.columns_ok:
            return _fault("modified", row, "indexed columns differ from the hashed body")
        if not item.hash_ok:
            return _fault("modified", row, "stored hash does not match the record")
        return _fault("modified", row, "prev_hash does not link to the previous record")

    def check_head(self, last_seq: int, last_hash: str, at_head: _Checked | None) -> Fault | None:
        last = self.behind[-1].row if self.behind else None
        if self.head is None:
            if last is None:
                return None
            return _fault("head_mismatch", last, "records exist but the chain has no head row")
        head_seq, head_hash = self.head
        if head_seq > last_seq:
            return Fault(
                "truncated",
                last_seq + 1,
                None,
                None,
                f"head is at seq {head_seq}, records end at seq {last_seq}",
            )
        if head_seq < last_seq and at_head is not None and at_head.row.prev_hash == head_hash:
            return _fault(
                "inserted", at_head.row, f"records after the head (seq {head_seq}) were added"
            )
        if head_seq != last_seq or head_hash != last_hash:
            detail = f"head (seq {head_seq}) does not match the last record (seq {last_seq})"
            if last is None:
                return Fault("head_mismatch", 0, None, None, detail)
            return _fault("head_mismatch", last, detail)
        return None


def check_tenant(
    tenant_id: str, rows: Iterator[Row], head: tuple[int, str] | None, *, window: int = 8
) -> tuple[int, Fault | None]:
    """Check one tenant's rows (ordered by seq, id); returns (rows read, first fault)."""
    walk = _TenantWalk(tenant_id, rows, head, window)
    fault = walk.run()
    return walk.count, fault
