"""Spotlight wrapping: the boundary holds whatever the content says."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.gateway.spotlight import Spotlight, datamark, generate_boundary, neutralise
from bastion.policy import Policy

PIECES = st.sampled_from(["<<", "<</", "untrusted", ":", ">>", " ", "/", "\uff1c", "ab", "\n"])


@given(st.lists(PIECES | st.text(max_size=5), max_size=30).map("".join), st.booleans())
def test_content_never_closes_the_wrapper(content: str, marked: bool) -> None:
    """The wrapped text has exactly one opening and one closing marker, at its ends."""
    spot = Spotlight("f" * 32, datamark=marked)
    wrapped = spot.wrap(content)
    assert wrapped.startswith(spot.open + "\n") and wrapped.endswith("\n" + spot.close)
    inner = wrapped[len(spot.open) : -len(spot.close)]
    assert "<<untrusted:" not in inner.lower() and "<</untrusted:" not in inner.lower()


@given(st.text(max_size=60))
def test_neutralise_is_idempotent(text: str) -> None:
    """Neutralising twice changes nothing more."""
    assert neutralise(neutralise(text)) == neutralise(text)


def test_boundary_is_128_random_bits_from_the_source() -> None:
    """The random source is a parameter; the default gives fresh 32-hex-digit ids."""
    assert generate_boundary(lambda n: "ab" * n) == "ab" * 16
    assert generate_boundary() != generate_boundary()
    assert len(generate_boundary()) == 32
    with pytest.raises(ValueError, match="token_hex"):
        generate_boundary(lambda n: "zz")


def test_repr_hides_the_boundary_and_datamark_keeps_lines() -> None:
    """Nothing logs the boundary by accident; datamarks replace spaces, keep line breaks."""
    assert "f" * 32 not in repr(Spotlight("f" * 32))
    assert datamark("a b\tc\n\nd") == "a\u02c6b\u02c6c\u02c6\nd"


def test_untrusted_roles_are_validated() -> None:
    """A policy marking an unknown role untrusted fails, naming the roles it may mark."""
    with pytest.raises(ValueError, match="roles that can be marked"):
        Policy(untrusted_roles=("tool", "sytem"))
