"""Chunking: paragraph and sentence boundaries, bounded size, overlap, deterministic,
nothing lost, and clear refusals that never quote the text."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.documents.chunking import MAX_CHARS, OVERLAP, TARGET, chunk_text
from bastion.documents.errors import DocumentError

SENTENCE = "The quarterly report covers revenue, costs and the hiring plan for next year."


def paragraph(n: int, tag: str) -> str:
    return " ".join(f"{tag}{i}: {SENTENCE}" for i in range(n))


def test_a_short_text_is_one_chunk_stripped() -> None:
    """A text within the target is one chunk, surrounding white space removed."""
    assert chunk_text("\n  Hello, world.  \n") == ["Hello, world."]


def test_paragraphs_that_fit_share_a_chunk_and_keep_their_break() -> None:
    """Small paragraphs are packed together, separated by a blank line."""
    text = "First paragraph.\r\n\r\nSecond paragraph.\n \n\nThird."
    assert chunk_text(text) == ["First paragraph.\n\nSecond paragraph.\n\nThird."]


def test_cuts_fall_between_paragraphs_when_they_can() -> None:
    """Three 500-character paragraphs: each chunk holds one, plus the overlap."""
    paras = [paragraph(5, tag) for tag in "ABC"]
    assert all(400 < len(p) < TARGET for p in paras)
    chunks = chunk_text("\n\n".join(paras))
    assert len(chunks) == 3
    assert chunks[0] == paras[0]
    for chunk, para in zip(chunks[1:], paras[1:], strict=True):
        assert chunk.endswith(para) and len(chunk) > len(para)


def test_a_long_paragraph_is_cut_at_sentence_ends() -> None:
    """A paragraph over the target is split at sentences; no sentence is cut."""
    text = paragraph(30, "S")
    chunks = chunk_text(text)
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.endswith("next year.")
        assert len(chunk) <= TARGET + OVERLAP + 1


def test_each_chunk_begins_with_the_end_of_the_one_before() -> None:
    """The overlap: the next chunk starts with the previous chunk's last words."""
    chunks = chunk_text(paragraph(30, "S"))
    for before, after in itertools.pairwise(chunks):
        words = after.split()
        head = " ".join(words[:3])
        assert head in before[-OVERLAP - 1 :]


def test_a_sentence_without_spaces_is_cut_hard() -> None:
    """A 2,000-character token cannot be cut at a space: cut at the target, no overlap."""
    token = "x" * 2000
    chunks = chunk_text(token)
    assert [len(c) for c in chunks] == [800, 800, 400]
    assert "".join(chunks) == token


def test_no_overlap_when_asked() -> None:
    """overlap=0: the chunks partition the words."""
    text = paragraph(30, "S")
    chunks = chunk_text(text, overlap=0)
    assert " ".join(chunks).split() == text.split()


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n"])
def test_a_text_with_no_words_is_refused(text: str) -> None:
    """Nothing but white space: DocumentError, 'no text'."""
    with pytest.raises(DocumentError, match="no text"):
        chunk_text(text)


def test_a_text_over_the_limit_is_refused_without_quoting_it() -> None:
    """One character over the limit is refused; at the limit is accepted."""
    marker = "SECRET-MARKER "
    over = marker * (MAX_CHARS // len(marker)) + "x" * (MAX_CHARS % len(marker) + 1)
    assert len(over) == MAX_CHARS + 1
    with pytest.raises(DocumentError, match=f"at most {MAX_CHARS}") as caught:
        chunk_text(over)
    assert marker not in str(caught.value)
    assert chunk_text(over[:-1])


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="target"):
        chunk_text("x", target=100, overlap=100)


words = st.text(alphabet=st.characters(categories=("L", "Nd")), min_size=1, max_size=24)
sentences = st.lists(words, min_size=1, max_size=30).map(lambda w: " ".join(w) + ".")
paragraphs = st.lists(sentences, min_size=1, max_size=12).map(" ".join)
documents = st.lists(paragraphs, min_size=1, max_size=8).map("\n\n".join)


@given(documents)
def test_every_word_survives_in_order_and_chunks_are_bounded(text: str) -> None:
    """Property: with overlap 0, the chunks' words are the text's words; with the
    default overlap, every chunk is bounded and every word is in some chunk."""
    assert " ".join(chunk_text(text, overlap=0)).split() == text.split()
    chunks = chunk_text(text)
    assert chunks == chunk_text(text)  # deterministic
    assert all(0 < len(c) <= TARGET + OVERLAP + 1 for c in chunks)
    present = {w for c in chunks for w in c.split()}
    assert set(text.split()) <= present
