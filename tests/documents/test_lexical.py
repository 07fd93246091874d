"""BM25 and rank fusion: pure functions over a candidate set."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import pytest

from bastion.documents.lexical import K1, B, bm25_scores, tokenize
from bastion.documents.ranking import MIN_SIMILARITY, RRF_K, rank


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("Straße ÜBER café", ["strasse", "über", "café"]),
        ("東京 revenue_2024 x-ray", ["東京", "revenue_2024", "x", "ray"]),
        ("  \n\t ", []),
        ("a" * 100, ["a" * 64]),
    ],
)
def test_tokenize_case_folds_unicode_words(text: str, tokens: list[str]) -> None:
    """Tokens are case-folded runs of word characters in any script, at most 64 long."""
    assert tokenize(text) == tokens


def test_bm25_matches_a_hand_computed_score() -> None:
    """Two texts, one query term: the formula with Lucene's IDF, k1=1.2, b=0.75."""
    texts = ["revenue rose revenue", "costs fell"]
    scores = bm25_scores("Revenue", texts)
    idf = math.log(1 + (2 - 1 + 0.5) / (1 + 0.5))
    norm = K1 * (1 - B + B * 3 / 2.5)
    assert scores[0] == pytest.approx(idf * 2 * (K1 + 1) / (2 + norm))
    assert scores[1] == 0.0


def test_texts_without_a_query_term_score_zero() -> None:
    assert bm25_scores("pricing", ["revenue rose", "costs fell"]) == [0.0, 0.0]
    assert bm25_scores("...", ["revenue"]) == [0.0]
    assert bm25_scores("revenue", []) == []


def test_a_rare_term_weighs_more_than_a_common_one() -> None:
    """IDF: matching the rare word beats matching the word every text has."""
    texts = ["the report", "the audit", "the plan", "the budget"]
    scores = bm25_scores("the audit", texts)
    assert scores[1] == max(scores) and scores[0] == scores[2] == scores[3] > 0.0


def test_a_shorter_text_with_the_same_count_ranks_higher() -> None:
    """Length normalisation (b): one mention in a short text beats one in a long text."""
    scores = bm25_scores("audit", ["audit done", "audit " + "filler " * 30])
    assert scores[0] > scores[1] > 0.0


def test_term_frequency_saturates() -> None:
    """Ten mentions score less than ten times one mention (bounded by k1 + 1)."""
    one, ten = bm25_scores("audit", ["audit x y z", "audit " * 10], b=0.0)
    assert one < ten < one * (K1 + 1)


def test_repeating_a_query_word_changes_nothing() -> None:
    texts = ["audit report", "budget"]
    assert bm25_scores("audit audit audit", texts) == bm25_scores("audit", texts)


def _vector(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def _dot(query: bytes, vectors: Sequence[bytes]) -> list[float]:
    """Cosine of unit vectors: a test double with the Embedder.similarities contract."""
    q = struct.unpack(f"<{len(query) // 4}f", query)
    return [
        sum(a * b for a, b in zip(q, struct.unpack(f"<{len(v) // 4}f", v), strict=True))
        for v in vectors
    ]


def test_lexical_ranking_returns_only_matches_best_first() -> None:
    texts = ["budget plan", "audit audit report", "audit", "nothing here"]
    ranked = rank("audit", texts, 10)
    assert [r.index for r in ranked] == [2, 1]
    assert ranked[0].score >= ranked[1].score > 0.0
    assert [r.index for r in rank("audit", texts, 1)] == [2]


def test_hybrid_ranking_adds_what_only_the_vectors_find() -> None:
    """A text without the query's words ranks by meaning; one found both ways fuses
    both reciprocal ranks and comes first."""
    texts = ["revenue report", "money made this quarter", "office dog", "revenue"]
    vectors = [_vector(0.8, 0.6), _vector(1.0, 0.0), _vector(0.0, 1.0), None]
    ranked = rank(
        "revenue", texts, 10, query_vector=_vector(1.0, 0.0), vectors=vectors, similarities=_dot
    )
    # office dog: below MIN_SIMILARITY. "revenue" (words only) and "money made" (meaning
    # only) are both first of one ranking: a tie, kept in candidate order.
    assert [r.index for r in ranked] == [0, 1, 3]
    assert ranked[0].score == pytest.approx(2 / (RRF_K + 2))
    assert ranked[1].score == ranked[2].score == pytest.approx(1 / (RRF_K + 1))
    assert MIN_SIMILARITY > 0.0


def test_ranking_is_deterministic_on_ties() -> None:
    """Equal scores keep candidate order."""
    assert [r.index for r in rank("audit", ["audit", "audit", "audit"], 3)] == [0, 1, 2]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="k must be"):
        rank("x", ["x"], 0)
    with pytest.raises(ValueError, match="as many"):
        rank("x", ["x"], 1, query_vector=_vector(1.0), vectors=[], similarities=_dot)
