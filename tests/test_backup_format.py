"""The backup container format, driven directly: chunking, tamper evidence, key per archive."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.backup import (
    ArchiveDamaged,
    ArchiveWriter,
    NotAnArchive,
    UnsupportedArchive,
    open_archive,
)
from bastion.crypto import LocalKeyProvider
from tests.backup_helpers import NOW, Kek, flip, flip_chunk, make_kek, split


@pytest.fixture
def kek(tmp_path: Path) -> Kek:
    return make_kek(tmp_path / "kek")


def seal_bytes(body: bytes, kek: Kek, chunk_size: int = 256, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    writer = ArchiveWriter(
        out, kek.provider, revision="0003", now=NOW, chunk_size=chunk_size, **kwargs
    )
    writer.write(body)
    writer.close()
    assert writer.bytes_written == len(out.getvalue())
    return out.getvalue()


def read_body(data: bytes, kek: Kek) -> bytes:
    return b"".join(open_archive(io.BytesIO(data), kek.provider).chunks())


@pytest.mark.parametrize("size", [0, 1, 255, 256, 257, 512, 1000])
def test_chunk_boundaries_round_trip(size: int, kek: Kek) -> None:
    """Bodies on and around chunk boundaries come back exactly; only full chunks
    precede the final one."""
    body = os.urandom(size)
    data = seal_bytes(body, kek)
    assert read_body(data, kek) == body
    _header, chunks = split(data)
    assert len(chunks) == max(1, -(-size // 256))


@settings(max_examples=40, deadline=None)
@given(body=st.binary(max_size=1500), writes=st.integers(min_value=1, max_value=5))
def test_any_body_round_trips(body: bytes, writes: int) -> None:
    """decrypt(encrypt(body)) == body, however the body is split into writes."""
    key = Kek(bytes(range(32)), Path("unused"))
    out = io.BytesIO()
    writer = ArchiveWriter(out, key.provider, revision="r", now=NOW, chunk_size=256)
    step = max(1, len(body) // writes)
    for start in range(0, len(body), step):
        writer.write(body[start : start + step])
    writer.close()
    assert read_body(out.getvalue(), key) == body


def test_every_flipped_byte_is_detected(kek: Kek) -> None:
    """Flipping any single bit-0 of any byte of an archive makes it fail to read."""
    data = seal_bytes(b"x" * 700, kek)
    for index in range(len(data)):
        with pytest.raises((ArchiveDamaged, NotAnArchive, UnsupportedArchive)):
            read_body(flip(data, index), kek)


def test_every_truncation_is_detected(kek: Kek) -> None:
    """An archive cut at any length fails to read, including at chunk boundaries."""
    data = seal_bytes(b"y" * 700, kek)
    for length in range(len(data)):
        with pytest.raises((ArchiveDamaged, NotAnArchive)):
            read_body(data[:length], kek)


def test_failures_all_say_the_same(kek: Kek) -> None:
    """A flipped chunk, a truncation and a wrong KEK give one and the same message."""
    data = seal_bytes(b"z" * 700, kek)
    header, chunks = split(data)
    messages = set()
    for bad, key in (
        (flip_chunk(header, chunks), kek),
        (header + b"".join(chunks[:-1]), kek),
        (data, Kek(os.urandom(32), kek.file)),
    ):
        with pytest.raises(ArchiveDamaged) as caught:
            read_body(bad, key)
        messages.add(str(caught.value))
    assert messages == {"the archive is damaged or was made under another key-encryption key"}


def test_header_is_public_and_keys_are_per_archive(kek: Kek) -> None:
    """The header names revision, time and KEK; each archive has its own id and key."""
    first, second = seal_bytes(b"same", kek), seal_bytes(b"same", kek)
    one = open_archive(io.BytesIO(first), kek.provider).header
    two = open_archive(io.BytesIO(second), kek.provider).header
    assert (one.revision, one.created_at, one.kek_id) == ("0003", NOW, kek.provider.key_id)
    assert one.archive_id != two.archive_id
    assert one.wrapped_key != two.wrapped_key
    assert "wrapped_key" not in repr(one)
    assert split(first)[1] != split(second)[1]


def test_output_is_a_function_of_time_and_randomness(kek: Kek) -> None:
    """With the clock and the random sources given, an archive is byte-for-byte repeatable."""

    def counter() -> Callable[[int], bytes]:
        state = iter(range(10**6))
        return lambda n: bytes(next(state) % 256 for _ in range(n))

    def archive() -> bytes:
        out = io.BytesIO()
        provider = LocalKeyProvider(kek.key, random=counter())
        writer = ArchiveWriter(out, provider, revision="r", now=NOW, random=counter())
        writer.write(b"body" * 100)
        writer.close()
        return out.getvalue()

    assert archive() == archive()
