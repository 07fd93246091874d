"""Deltas of one network read are merged per choice, and nothing else changes."""

from __future__ import annotations

from bastion.upstream.base import StreamDelta, Usage, coalesce


def test_merges_runs_of_text_per_choice() -> None:
    """Consecutive text of one choice merges; a choice switch starts a new delta."""
    deltas = [StreamDelta(0, "ab"), StreamDelta(0, "cd"), StreamDelta(1, "x"), StreamDelta(0, "e")]
    assert [(d.index, d.text) for d in coalesce(deltas)] == [(0, "abcd"), (1, "x"), (0, "e")]


def test_finish_closes_a_run_and_is_kept() -> None:
    """A finishing delta absorbs into the run it ends; what follows starts anew."""
    usage = Usage(3, 4)
    deltas = [
        StreamDelta(0, "ab"),
        StreamDelta(0, "c", finish_reason="stop"),
        StreamDelta(0, "", usage=usage),
    ]
    out = coalesce(deltas)
    assert [(d.text, d.finish_reason, d.usage) for d in out] == [
        ("abc", "stop", None),
        ("", None, usage),
    ]


def test_inputs_are_not_mutated() -> None:
    """Coalescing copies; the caller's deltas keep their text."""
    first = StreamDelta(0, "a")
    coalesce([first, StreamDelta(0, "b")])
    assert first.text == "a"
