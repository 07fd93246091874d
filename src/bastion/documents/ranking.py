"""Ranking candidate chunks: BM25 alone, or BM25 and cosine fused by reciprocal rank.

:func:`rank` is given only the chunks the caller may read (the permission filter ran
before, in SQL). Lexically, a chunk ranks only if it shares a word with the query.
With an embedder, the chunks whose vector was made by the same model also rank by
cosine similarity (at least :data:`MIN_SIMILARITY`), and the two rankings are fused
with reciprocal-rank fusion: ``score = sum(1 / (RRF_K + rank))`` over the rankings a
chunk appears in (Cormack, Clarke and Buettcher, SIGIR 2009). Fusing ranks, not raw
scores, needs no calibration between BM25's unbounded scale and cosine's [-1, 1].
Chunks without a usable vector (made by another model, or none) rank lexically only.

Ties break by candidate order, so the same candidates always rank the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bastion.documents.lexical import bm25_scores

__all__ = ["MIN_SIMILARITY", "RRF_K", "Ranked", "rank"]

RRF_K = 60
MIN_SIMILARITY = 0.2

Similarities = Callable[[bytes, Sequence[bytes]], list[float]]


@dataclass(frozen=True, slots=True)
class Ranked:
    """A candidate's position in the input and its score (higher is better): the BM25
    score when ranking was lexical, else the fused reciprocal-rank score."""

    index: int
    score: float


def rank(
    query: str,
    texts: Sequence[str],
    k: int,
    *,
    query_vector: bytes | None = None,
    vectors: Sequence[bytes | None] = (),
    similarities: Similarities | None = None,
) -> list[Ranked]:
    """The best ``k`` of ``texts`` for ``query``; hybrid when a query vector is given.

    ``vectors[i]`` is the vector of ``texts[i]`` from the same model as
    ``query_vector`` (None where there is none); ``similarities`` compares them.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    lexical = bm25_scores(query, texts)
    by_words = _order({i: s for i, s in enumerate(lexical) if s > 0.0})
    if query_vector is None or similarities is None:
        return [Ranked(i, lexical[i]) for i in by_words[:k]]
    if len(vectors) != len(texts):
        raise ValueError("vectors must be as many as texts")
    usable = [i for i, vector in enumerate(vectors) if vector is not None]
    cosines = similarities(query_vector, [v for v in vectors if v is not None])
    by_meaning = _order({i: s for i, s in zip(usable, cosines, strict=True) if s >= MIN_SIMILARITY})
    fused: dict[int, float] = {}
    for ranking in (by_words, by_meaning):
        for position, i in enumerate(ranking, start=1):
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + position)
    return [Ranked(i, fused[i]) for i in _order(fused)[:k]]


def _order(scores: dict[int, float]) -> list[int]:
    """Indices by descending score, ties by ascending index."""
    return sorted(scores, key=lambda i: (-scores[i], i))
