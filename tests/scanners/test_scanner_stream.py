"""StreamGuard: what is released, when blocks happen, and the holdback arithmetic."""

from __future__ import annotations

import asyncio
import functools
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.scanners import (
    Decision,
    Pipeline,
    ScanContext,
    Stage,
    StreamGuard,
)

from .scanner_helpers import CANARY, default_pipeline, load_vectors, make_pipeline

CTX = ScanContext(stage=Stage.OUTPUT, secrets={"canary": CANARY})
PLAIN = "ghijklmnopqrstuvwxyz GHIJKLMNOPQRSTUVWXYZ.,!?\n"
SECRETS = [
    "".join(row["parts"][1:3])
    for row in load_vectors()["positive"]
    if row["parts"][1] and "\n" not in "".join(row["parts"][1:3])
]


def _chunks(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


async def _stream(pipeline: Pipeline, chunks: list[str]) -> tuple[list[str], StreamGuard]:
    guard = StreamGuard(pipeline, CTX, 16)
    released = [await guard.feed(chunk) for chunk in chunks]
    released.append(await guard.finish())
    return released, guard


def test_holdback_covers_the_longest_declared_match() -> None:
    """The effective holdback is the larger of the policy's and the scanners' needs."""
    pipeline = make_pipeline()
    assert StreamGuard(pipeline, CTX, 16).holdback == pipeline.max_match_chars(Stage.OUTPUT)
    assert StreamGuard(pipeline, CTX, 4096).holdback == 4096


async def test_short_stream_is_released_at_finish() -> None:
    """Text shorter than the holdback is all released by finish()."""
    guard = StreamGuard(make_pipeline(), CTX, 16)
    assert await guard.feed("Hello, ") == ""
    assert await guard.feed("world.") == ""
    assert await guard.finish() == "Hello, world."
    assert not guard.blocked
    assert {r.scanner for r in guard.results} == {
        "canary",
        "system_prompt_leak",
        "secrets",
        "pii",
        "markdown_exfil",
    }


async def test_block_stops_the_stream() -> None:
    """After a block, feed and finish return nothing and the verdict is kept."""
    guard = StreamGuard(make_pipeline(), CTX, 16)
    assert await guard.feed("x" * 300) == "x" * (300 - guard.holdback)
    assert await guard.feed(" the canary is " + CANARY) == ""
    assert guard.blocked
    assert guard.verdict is not None and guard.verdict.reasons == ("canary_leak",)
    assert await guard.feed("more") == ""
    assert await guard.finish() == ""
    (flagged,) = [r for r in guard.results if r.decision is Decision.BLOCK]
    assert flagged.findings[0].start == 315  # absolute offset in the stream


async def test_feed_after_finish_is_an_error() -> None:
    """A finished guard refuses more deltas."""
    guard = StreamGuard(make_pipeline(), CTX, 16)
    await guard.finish()
    with pytest.raises(RuntimeError):
        await guard.feed("x")


async def test_endless_redaction_span_fails_closed() -> None:
    """Text held behind an unfinished span beyond max_pending blocks."""
    guard = StreamGuard(make_pipeline(), CTX, 16, max_pending=1000)
    await guard.feed("-----BEGIN RSA PRIVATE KEY-----\n")
    for _ in range(30):
        await guard.feed("A" * 63 + "b\n")
    assert guard.blocked
    assert guard.verdict is not None
    assert guard.verdict.reasons[-1] == "stream_holdback_exceeded"


async def test_redaction_is_released_as_one_marker() -> None:
    """A secret in output is replaced by a single marker, never cut in two."""
    secret = SECRETS[0]
    text = "a" * 400 + " " + secret + " " + "b" * 400
    released, _ = await _stream(make_pipeline(), [text[i : i + 7] for i in range(0, len(text), 7)])
    assert "".join(released) == "a" * 400 + " [REDACTED:aws_access_key_id] " + "b" * 400


def _run(pipeline: Pipeline, chunks: list[str]) -> tuple[list[str], StreamGuard]:
    return asyncio.run(_stream(pipeline, chunks))


@functools.cache
def _blocking_pipeline() -> Pipeline:
    """Built once for the property tests (scanners keep no state between calls)."""
    return make_pipeline(scanners={"secrets": {"output_action": "block"}})


def _check_block(text: str, start: int, end: int, cuts: list[int]) -> None:
    chunks = _chunks(text, cuts)
    pipeline = _blocking_pipeline()
    released, guard = _run(pipeline, chunks)
    sent = "".join(released)
    assert guard.blocked
    assert text.startswith(sent) and len(sent) <= start  # nothing of the match left
    # Blocked no later than the chunk that completed the match.
    completing = next(i for i, _ in enumerate(chunks) if sum(map(len, chunks[: i + 1])) >= end)
    assert all(r == "" for r in released[completing + 1 :])
    assert len(guard.verdicts) <= completing + 1


@settings(max_examples=150)
@given(
    st.text(alphabet=PLAIN, max_size=600),
    st.text(alphabet=PLAIN, max_size=600),
    st.sampled_from(["", " ", "-", " - ", "\u200b"]),
    st.lists(st.integers(min_value=0), max_size=40),
)
def test_canary_never_escapes_any_chunking(
    before: str, after: str, sep: str, cuts: list[int]
) -> None:
    """However the stream is cut, no character of a canary leak is released."""
    leak = sep.join(CANARY)
    text = before + " " + leak + " " + after
    start = len(before) + 1
    _check_block(text, start, start + len(leak), cuts)


@settings(max_examples=150)
@given(
    st.text(alphabet=PLAIN, max_size=600),
    st.text(alphabet=PLAIN, max_size=600),
    st.sampled_from(SECRETS),
    st.lists(st.integers(min_value=0), max_size=40),
)
def test_blocked_secret_never_escapes_any_chunking(
    before: str, after: str, secret: str, cuts: list[int]
) -> None:
    """With output_action=block, no character of the secret is released."""
    text = before + " " + secret + " " + after
    start = len(before) + 1
    _check_block(text, start, start + len(secret), cuts)


@settings(max_examples=150)
@given(
    st.text(alphabet=PLAIN + "abcdef0123456789éü中文👍❤️", max_size=1500),
    st.lists(st.integers(min_value=0), max_size=60),
)
def test_allowed_stream_is_released_unchanged(text: str, cuts: list[int]) -> None:
    """A stream nothing flags comes out exactly as it went in."""
    pipeline = default_pipeline()
    verdict = asyncio.run(pipeline.run(Stage.OUTPUT, text, CTX))
    released, guard = _run(pipeline, _chunks(text, cuts))
    if verdict.decision is Decision.ALLOW:
        assert "".join(released) == text
        assert not guard.blocked


@settings(max_examples=150)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=PLAIN, max_size=80),
            st.sampled_from(SECRETS).map(lambda s: f" {s} "),
        ),
        max_size=8,
    ),
    st.lists(st.integers(min_value=0), max_size=40),
)
def test_streamed_redaction_matches_whole_text_redaction(
    pieces: list[str], cuts: list[int]
) -> None:
    """Redacting chunk by chunk gives the same text as redacting the whole response."""
    text = "".join(pieces)
    pipeline = default_pipeline()
    whole = asyncio.run(pipeline.run(Stage.OUTPUT, text, CTX))
    released, guard = _run(pipeline, _chunks(text, cuts))
    assert not guard.blocked
    assert "".join(released) == whole.text
