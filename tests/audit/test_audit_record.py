"""Canonical encoding and hashing of audit records are stable and documented."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bastion.audit
from bastion.audit import GENESIS_HASH, AuditEvent, canonical_body, record_hash

EventFactory = Callable[..., AuditEvent]
VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "record_hash.json").read_text(encoding="utf-8")
)


def _event(fields: dict[str, Any]) -> AuditEvent:
    return AuditEvent(**{**fields, "ts": datetime.fromisoformat(fields["ts"])})


def _independent_hash(tenant_id: str, seq: int, prev_hash: str, body: str) -> str:
    """The scheme as the module docstring states it, written without Bastion's code."""
    data = b"bastion.audit.v1\n"
    for part in (tenant_id, str(seq), prev_hash, body):
        encoded = part.encode("utf-8")
        data += len(encoded).to_bytes(8, "big") + encoded
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_fixed_vectors(vector: dict[str, Any]) -> None:
    """A known event encodes to the exact stored body and hash."""
    body = canonical_body(_event(vector["event"]))
    assert body == vector["body"]
    assert record_hash("acme", vector["seq"], vector["prev_hash"], body) == vector["hash"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_documented_scheme_reimplements_hash(vector: dict[str, Any]) -> None:
    """An auditor following the docstring gets the same hash as record_hash."""
    expected = _independent_hash("acme", vector["seq"], vector["prev_hash"], vector["body"])
    assert expected == vector["hash"]


def test_genesis_is_64_zeros() -> None:
    """The first record of a chain links to 64 zeros."""
    assert GENESIS_HASH == "0" * 64


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("ab", 1, GENESIS_HASH, "c"), ("a", 1, GENESIS_HASH, "bc")),
        (("t", 1, GENESIS_HASH, "x"), ("t", 11, GENESIS_HASH, "x")),
        (("t", 1, GENESIS_HASH, "x"), ("t", 1, "1" + GENESIS_HASH[1:], "x")),
        (("t", 12, GENESIS_HASH, "x"), ("t1", 2, GENESIS_HASH, "x")),
    ],
)
def test_field_boundaries_are_unambiguous(
    a: tuple[str, int, str, str], b: tuple[str, int, str, str]
) -> None:
    """Moving characters between fields changes the hash."""
    assert record_hash(*a) != record_hash(*b)


def test_timestamps_are_utc_with_microseconds(make_event: EventFactory) -> None:
    """ts and nested datetimes are written in UTC with six fractional digits."""
    plus_two = timezone(timedelta(hours=2))
    event = make_event(
        0,
        ts=datetime(2025, 1, 1, 2, 0, tzinfo=plus_two),
        extra={"at": datetime(2025, 1, 1, tzinfo=UTC)},
    )
    body = orjson.loads(canonical_body(event))
    assert body["ts"] == "2025-01-01T00:00:00.000000+00:00"
    assert body["extra"]["at"] == "2025-01-01T00:00:00.000000+00:00"


def test_dict_order_does_not_change_the_body(make_event: EventFactory) -> None:
    """Key order in nested dicts does not matter: keys are sorted."""
    first = make_event(1, extra={"b": 1, "a": {"y": 2, "x": 3}})
    second = make_event(1, extra={"a": {"x": 3, "y": 2}, "b": 1})
    assert canonical_body(first) == canonical_body(second)


def test_naive_timestamp_is_rejected(make_event: EventFactory) -> None:
    """An event cannot carry a naive timestamp."""
    with pytest.raises(ValueError, match="timezone-aware"):
        make_event(0, ts=datetime(2025, 1, 1))


def test_unencodable_value_error_names_no_content(make_event: EventFactory) -> None:
    """An unencodable value raises ValueError without the record's text."""
    event = make_event(0, prompt=[{"role": "user", "content": "secret-prompt"}], extra={"x": {1}})
    with pytest.raises(ValueError, match="cannot be encoded") as info:
        canonical_body(event)
    assert "secret-prompt" not in str(info.value)


def test_repr_hides_prompt_and_response(make_event: EventFactory) -> None:
    """An event's repr shows identifiers, not what the user or the model said."""
    event = make_event(
        3, prompt=[{"role": "user", "content": "secret-prompt"}], response="secret-answer"
    )
    text = repr(event)
    assert "secret" not in text
    assert event.request_id in text


@given(
    content=st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"])), max_size=4),
    score=st.floats(allow_nan=False, allow_infinity=False),
    number=st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
def test_body_reparses_to_itself(content: list[str], score: float, number: int) -> None:
    """Parsing a body and re-serialising it with sorted keys gives the same text."""
    event = AuditEvent(
        ts=datetime(2025, 1, 1, tzinfo=UTC),
        request_id="r",
        tenant_id="t",
        user_id="u",
        key_id="k",
        model="m",
        route="/v1/chat/completions",
        outcome="allowed",
        prompt=[{"role": "user", "content": text} for text in content],
        latency_ms=score,
        extra={"n": number},
    )
    body = canonical_body(event)
    assert orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS).decode() == body


def test_public_names_are_pinned() -> None:
    """The package exports exactly these names, sorted."""
    assert bastion.audit.__all__ == [
        "GENESIS_HASH",
        "SEALED_FIELDS",
        "AuditEvent",
        "AuditLog",
        "AuditReceipt",
        "AuditSealer",
        "AuditWriteError",
        "Problem",
        "SealedContentError",
        "TenantReport",
        "VerifyReport",
        "canonical_body",
        "export_jsonl",
        "record_hash",
        "sealer_for",
        "verify_chain",
    ]


def test_canonical_parts_merge_back_to_the_hashed_body() -> None:
    """Clear part + content part, merged with sorted keys, is the full canonical body."""
    from bastion.audit.record import canonical_parts

    event = AuditEvent(
        ts=datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC),
        request_id="r",
        tenant_id="t",
        user_id="u",
        key_id="k",
        model="m",
        route="/v1/chat/completions",
        outcome="allowed",
        prompt=[{"role": "user", "content": 'héllo \u2028 "quoted"'}],
        response=["a", "b"],
        latency_ms=1.25,
    )
    full, clear, content = canonical_parts(event)
    assert full == canonical_body(event)
    assert "héllo" not in clear
    merged = {**orjson.loads(clear), **orjson.loads(content)}
    assert orjson.dumps(merged, option=orjson.OPT_SORT_KEYS).decode() == full
