"""`bastion restore` of a damaged, foreign or wrong-key archive: a clear error, and
nothing written (the fixtures and helpers are :mod:`tests.test_backup`'s)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backup_helpers import Kek, flip, flip_chunk, make_kek, split
from tests.test_backup import (
    MARKER,
    Cli,
    _no_bastion_env,
    assert_clean_failure,
    assert_empty,
    backend,
    cli,
    fresh_db,
    kek,
    make_archive,
    populate,
    small_chunk_archive,
)

__all__ = ["_no_bastion_env", "cli", "fresh_db", "kek", "small_chunk_archive"]


def _flip_header(h: bytes, c: list[bytes]) -> bytes:
    return flip(h, len(h) - 30) + b"".join(c)


def _flip_last_chunk(h: bytes, c: list[bytes]) -> bytes:
    return h + b"".join(c[:-1]) + flip(c[-1], len(c[-1]) - 1)


TAMPERING: dict[str, Callable[[bytes, list[bytes]], bytes]] = {
    "flip a header byte": _flip_header,
    "flip a chunk byte": flip_chunk,
    "flip the last chunk's tag": _flip_last_chunk,
    "drop the last chunk": lambda h, c: h + b"".join(c[:-1]),
    "cut inside a chunk": lambda h, c: h + b"".join(c)[: -len(c[-1]) - 7],
    "drop a middle chunk": lambda h, c: h + c[0] + b"".join(c[2:]),
    "append a chunk": lambda h, c: h + b"".join(c) + c[1],
    "append a byte": lambda h, c: h + b"".join(c) + b"\x00",
    "swap two chunks": lambda h, c: h + c[0] + c[2] + c[1] + b"".join(c[3:]),
}


@pytest.mark.parametrize("how", TAMPERING)
def test_tampered_archives_fail_and_write_nothing(
    tmp_path: Path,
    how: str,
    small_chunk_archive: tuple[Kek, bytes],
    fresh_db: Callable[[str], str],
    cli: Cli,
) -> None:
    """Each kind of tampering exits 1 with the one 'damaged' line; the target stays empty."""
    kek, data = small_chunk_archive
    header, chunks = split(data)
    assert len(chunks) > 10
    bad = tmp_path / "bad.bak"
    bad.write_bytes(TAMPERING[how](header, chunks))
    target = fresh_db("sqlite")
    failed = cli("restore", str(bad), url=target, kek=kek)
    assert_clean_failure(failed, 1, "the archive is damaged", "nothing was written")
    assert "chunk" not in failed.stderr and "byte" not in failed.stderr
    assert_empty(target)


def test_damage_in_the_last_chunk_rolls_back_the_load(
    tmp_path: Path, db_url: str, kek: Kek, fresh_db: Callable[[str], str], cli: Cli
) -> None:
    """Rows loaded from the good chunks are rolled back when the last one fails."""
    header, chunks = split(make_archive(populate(db_url, kek), kek, tmp_path / "s.bak"))
    bad = tmp_path / "bad.bak"
    bad.write_bytes(_flip_last_chunk(header, chunks))
    target = fresh_db(backend(db_url))
    assert_clean_failure(cli("restore", str(bad), url=target, kek=kek), 1, "damaged")
    assert_empty(target)


def test_restore_under_another_kek_fails(
    tmp_path: Path, small_chunk_archive: tuple[Kek, bytes], fresh_db: Callable[[str], str], cli: Cli
) -> None:
    """Another KEK cannot open the archive; the message names both public KEK ids."""
    kek, data = small_chunk_archive
    archive = tmp_path / "store.bak"
    archive.write_bytes(data)
    other = make_kek(tmp_path / "other.kek")
    target = fresh_db("sqlite")
    failed = cli("restore", str(archive), url=target, kek=other)
    assert_clean_failure(
        failed, 1, "another key-encryption key", kek.provider.key_id, other.provider.key_id
    )
    assert base64.b64encode(kek.key).decode() not in failed.stderr
    assert_empty(target)


def test_not_an_archive_is_named(
    tmp_path: Path, kek: Kek, fresh_db: Callable[[str], str], cli: Cli
) -> None:
    """A file that is not an archive is refused as such (exit 2)."""
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    failed = cli("restore", str(other), url=fresh_db("sqlite"), kek=kek)
    assert_clean_failure(failed, 2, "not a Bastion backup archive")


def test_the_archive_holds_no_plaintext(small_chunk_archive: tuple[Kek, bytes]) -> None:
    """No prompt, e-mail, tenant name or table name appears in the archive bytes."""
    _kek, data = small_chunk_archive
    for needle in (MARKER, "alice@acme.test", "globex", "audit_records", "question"):
        assert needle.encode() not in data
