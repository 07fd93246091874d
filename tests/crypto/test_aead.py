"""AES-256-GCM sealing: round trips, and every kind of tampering fails the same way."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.crypto import DecryptionError, associated_data, open_sealed, seal

KEY = bytes(range(32))
AAD = associated_data("tenant-a", "audit", "audit_records", "42")


@given(st.binary(max_size=4096))
def test_round_trip(plaintext: bytes) -> None:
    """decrypt(encrypt(x)) == x for any bytes."""
    assert open_sealed(KEY, seal(KEY, plaintext, AAD), AAD) == plaintext


@given(st.binary(min_size=1, max_size=256), st.data())
def test_any_flipped_bit_fails(plaintext: bytes, data: st.DataObject) -> None:
    """Flipping any bit of the blob makes it unopenable, with the one error."""
    blob = bytearray(seal(KEY, plaintext, AAD))
    index = data.draw(st.integers(0, len(blob) - 1))
    blob[index] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(DecryptionError) as info:
        open_sealed(KEY, bytes(blob), AAD)
    assert str(info.value) == "could not decrypt"


@pytest.mark.parametrize(
    "other",
    [
        associated_data("tenant-b", "audit", "audit_records", "42"),
        associated_data("tenant-a", "app", "audit_records", "42"),
        associated_data("tenant-a", "audit", "other_table", "42"),
        associated_data("tenant-a", "audit", "audit_records", "43"),
        associated_data("tenant-a", "audit", "audit_records4", "2"),  # no ambiguity
    ],
    ids=["tenant", "purpose", "table", "record", "boundary"],
)
def test_moved_ciphertext_fails(other: bytes) -> None:
    """A blob only opens for the tenant, purpose, table and record it was sealed for."""
    blob = seal(KEY, b"prompt text", AAD)
    with pytest.raises(DecryptionError):
        open_sealed(KEY, blob, other)


def test_wrong_key_truncation_and_version_fail_identically() -> None:
    """Wrong key, short blob and unknown version give the same error."""
    blob = seal(KEY, b"x", AAD)
    for key, candidate in (
        (os.urandom(32), blob),
        (KEY, blob[:20]),
        (KEY, b"\x02" + blob[1:]),
        (KEY, b""),
    ):
        with pytest.raises(DecryptionError, match=r"^could not decrypt$"):
            open_sealed(key, candidate, AAD)


def test_nonces_are_fresh() -> None:
    """Sealing the same plaintext twice gives different blobs."""
    assert seal(KEY, b"same", AAD) != seal(KEY, b"same", AAD)
