"""Okapi BM25 over a candidate set, in pure Python.

Retrieval ranks only the chunks the caller may read, after they are opened (see
:mod:`bastion.documents.store`), so there is no index to keep: :func:`bm25_scores`
scores one query against the texts it is given, with the collection statistics
(document frequencies, average length) of those texts.

The tokenizer is deliberately simple and language-neutral: case-folded runs of
Unicode word characters (letters, digits and ``_`` in any script), each cut to 64
characters. IDF is Lucene's ``ln(1 + (N - n + 0.5) / (n + 0.5))``, always positive,
so a term found in every candidate still counts a little. A query term counts once
however often the query repeats it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["K1", "B", "bm25_scores", "tokenize"]

K1 = 1.2
B = 0.75
_WORD = re.compile(r"\w+")
_MAX_TOKEN = 64


def tokenize(text: str) -> list[str]:
    """Case-folded Unicode word tokens of ``text``, in order."""
    return [token[:_MAX_TOKEN] for token in _WORD.findall(text.casefold())]


def bm25_scores(query: str, texts: Sequence[str], *, k1: float = K1, b: float = B) -> list[float]:
    """The BM25 score of each of ``texts`` for ``query`` (0.0: no query term in it)."""
    terms = set(tokenize(query))
    if not texts or not terms:
        return [0.0] * len(texts)
    bags = [Counter(tokenize(text)) for text in texts]
    lengths = [sum(bag.values()) for bag in bags]
    average = sum(lengths) / len(lengths) or 1.0
    count = len(bags)
    idf: dict[str, float] = {}
    for term in terms:
        having = sum(1 for bag in bags if term in bag)
        if having:
            idf[term] = math.log(1.0 + (count - having + 0.5) / (having + 0.5))
    scores: list[float] = []
    for bag, length in zip(bags, lengths, strict=True):
        norm = k1 * (1.0 - b + b * length / average)
        score = 0.0
        for term, weight in idf.items():
            frequency = bag.get(term, 0)
            if frequency:
                score += weight * frequency * (k1 + 1.0) / (frequency + norm)
        scores.append(score)
    return scores
