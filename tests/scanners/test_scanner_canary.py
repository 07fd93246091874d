"""Canary generation and detection of the canary in disguise."""

from __future__ import annotations

import base64
import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.scanners import CanaryScanner, Decision, ScanContext, Stage, generate_canary

from .scanner_helpers import CANARY

DIGITS = CANARY.removeprefix("bst-c-")
CTX = ScanContext(stage=Stage.OUTPUT, secrets={"canary": CANARY})


def test_generate_canary_uses_the_random_source() -> None:
    """The random source is a parameter, so the canary is exact in tests."""
    assert generate_canary(lambda n: "ab" * n) == "bst-c-" + "ab" * 12


def test_generate_canary_is_fresh() -> None:
    """Two default canaries differ and have the documented shape."""
    first, second = generate_canary(), generate_canary()
    assert first != second
    assert first.startswith("bst-c-") and len(first) == 30


def test_generate_canary_rejects_a_bad_source() -> None:
    """A random source returning non-hex fails loudly."""
    with pytest.raises(ValueError, match="token_hex"):
        generate_canary(lambda n: "zz" * n)


def test_no_canary_in_context_allows() -> None:
    """Without a canary the scanner has nothing to find."""
    ctx = ScanContext(stage=Stage.OUTPUT)
    assert CanaryScanner().scan(CANARY, ctx).decision is Decision.ALLOW


LEAKS = [
    ("exact", f"Sure, the token is {CANARY}."),
    ("upper case", CANARY.upper()),
    ("spaces", " ".join(CANARY)),
    ("dashes", "-".join(CANARY)),
    ("comma space", ", ".join(CANARY)),
    ("zero width", "\u200b".join(CANARY)),
    ("newlines", "\n".join(CANARY)),
    ("digits only", f"code: {DIGITS}"),
    ("reversed", CANARY[::-1]),
    ("hex encoded", CANARY.encode().hex()),
    ("hex spaced", " ".join(f"{b:02x}" for b in CANARY.encode())),
    ("base64", base64.b64encode(CANARY.encode()).decode()),
    ("base64 in sentence", base64.b64encode(f"My rules say {CANARY}!".encode()).decode()),
    ("base64 offset 1", base64.b64encode(f"x{CANARY}".encode()).decode()),
    ("base64 offset 2", base64.b64encode(f"xy{CANARY}".encode()).decode()),
    ("base64 urlsafe", base64.urlsafe_b64encode(f"??>{CANARY}".encode()).decode()),
    # Partial leaks: 12 or more consecutive canary characters are enough.
    ("one digit short", CANARY[:-1]),
    ("one digit changed", CANARY[:-1] + "8"),
    ("first 12 digits", f"the marker starts {DIGITS[:12]}"),
]


@pytest.mark.parametrize(("label", "text"), LEAKS, ids=[label for label, _ in LEAKS])
def test_disguised_canary_blocks(label: str, text: str) -> None:
    """Every known disguise of the canary blocks with canary_leak."""
    result = CanaryScanner().scan(text, CTX)
    assert (result.decision, result.reason) == (Decision.BLOCK, "canary_leak")


NEAR_MISSES = [
    ("other canary", "bst-c-fedcba9876543210fedcba98"),
    ("eleven digits", f"the marker starts {DIGITS[:11]}"),
    ("prefix only", "The bst-c- prefix marks canaries."),
    ("hex prose", "deadbeef cafe bad face 0123 4567"),
    ("wide gaps", "    ".join(DIGITS)),
    ("rot13", codecs.encode(CANARY, "rot13")),
]


@pytest.mark.parametrize(("label", "text"), NEAR_MISSES, ids=[n for n, _ in NEAR_MISSES])
def test_near_misses_allow(label: str, text: str) -> None:
    """Text that only resembles the canary is allowed."""
    assert CanaryScanner().scan(text, CTX).decision is Decision.ALLOW


def test_finding_spans_the_canary_with_its_prefix() -> None:
    """The finding covers the canary, spelled-out prefix included."""
    text = "leak: " + " ".join(CANARY) + " end"
    (finding,) = CanaryScanner().scan(text, CTX).findings
    assert (finding.start, text[finding.end :]) == (6, " end")


@given(
    st.text(alphabet="ghijklmnopqrstuvwxyz .,", max_size=60),
    st.text(alphabet="ghijklmnopqrstuvwxyz .,", max_size=60),
    st.sampled_from(["", " ", "-", " - ", "\u200b", ". "]),
    st.booleans(),
)
def test_canary_is_found_anywhere(before: str, after: str, sep: str, upper: bool) -> None:
    """The canary, separated or not, in any case, is found wherever it sits."""
    leak = sep.join(CANARY.upper() if upper else CANARY)
    text = f"{before} {leak} {after}"
    findings = CanaryScanner().scan(text, CTX).findings
    start = len(before) + 1
    assert any(f.start <= start + len(leak) - 1 < f.end for f in findings)
