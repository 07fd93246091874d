"""The numpy MiniLM encoder against vectors from the real sentence-transformers.

``fixtures/minilm_reference.json`` was made with sentence-transformers 6.0.1 on torch
2.13.0+cpu from the same model files (see ``fixtures/PROVENANCE.md``). The embedder
needs the ``embeddings`` extra: without it these tests skip on a laptop and fail under
``CI=true`` (the dev lock installs it).
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bastion.documents.embed import (
    EmbeddingsUnavailable,
    MiniLmEmbedder,
    load_embedder,
)

FIXTURE = Path(__file__).parent / "fixtures" / "minilm_reference.json"
DIM = 384


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    try:
        return MiniLmEmbedder()
    except EmbeddingsUnavailable as exc:
        reason = f"the embeddings extra is not installed ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true installs requirements/dev.lock, which has it")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def unpack(vector: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(vector) // 4}f", vector))


def test_matches_sentence_transformers(embedder: MiniLmEmbedder, reference: dict[str, Any]) -> None:
    texts: list[str] = reference["texts"]
    assert len(texts) == len(reference["vectors"]) >= 10
    for text, got_bytes, want in zip(
        texts, embedder.embed(texts), reference["vectors"], strict=True
    ):
        got = unpack(got_bytes)
        cosine = sum(g * w for g, w in zip(got, want, strict=True)) / math.sqrt(
            sum(w * w for w in want)
        )
        worst = max(abs(g - w) for g, w in zip(got, want, strict=True))
        assert cosine >= 0.9999, (text[:40], cosine)
        assert worst <= 1e-4, (text[:40], worst)


def test_long_text_is_truncated_not_rejected(
    embedder: MiniLmEmbedder, reference: dict[str, Any]
) -> None:
    long_text = max(reference["texts"], key=len)
    assert len(long_text.split()) > 256  # at least one token a word: past max_seq_length
    (vector,) = embedder.embed([long_text + " more words past the limit"])
    assert vector == embedder.embed([long_text])[0]


def test_vectors_are_unit_float32_bytes(embedder: MiniLmEmbedder) -> None:
    assert embedder.name == "all-MiniLM-L6-v2"
    assert embedder.dim == DIM
    vectors = embedder.embed(["hello world", "", "🚀"])
    assert [len(v) for v in vectors] == [DIM * 4] * 3
    for vector in vectors:
        assert math.isclose(sum(x * x for x in unpack(vector)), 1.0, abs_tol=1e-5)
    assert embedder.embed([]) == []


def test_batch_and_single_agree(embedder: MiniLmEmbedder) -> None:
    texts = [f"document {i}: " + "words " * (i * 7) for i in range(40)]
    batched = embedder.embed(texts)  # more than one batch, with padding
    for text, vector in zip(texts[::9], batched[::9], strict=True):
        (single,) = embedder.embed([text])
        assert max(abs(a - b) for a, b in zip(unpack(single), unpack(vector), strict=True)) < 1e-5
    assert embedder.embed(texts[:3]) == embedder.embed(texts[:3])


def test_ranking_puts_the_related_sentence_first(embedder: MiniLmEmbedder) -> None:
    query, finance, unrelated, other = embedder.embed(
        [
            "What was our quarterly revenue?",
            "Sales income for the third quarter rose to 4.2 million dollars.",
            "The hiking trail is closed because of snow.",
            "Please water the office plants on Fridays.",
        ]
    )
    scores = embedder.similarities(query, [unrelated, finance, other])
    assert scores.index(max(scores)) == 1
    assert scores[1] > scores[0] + 0.2
    assert math.isclose(embedder.similarities(finance, [finance])[0], 1.0, abs_tol=1e-5)
    assert embedder.similarities(query, []) == []


def test_similarities_rejects_foreign_vectors(embedder: MiniLmEmbedder) -> None:
    (vector,) = embedder.embed(["x"])
    with pytest.raises(ValueError, match="1536 bytes"):
        embedder.similarities(vector, [vector[:-4]])
    with pytest.raises(TypeError):
        embedder.embed("a string is not a list of texts")


def test_gelu_erf_matches_math_erf(embedder: MiniLmEmbedder) -> None:
    np = pytest.importorskip("numpy")
    x = np.linspace(-8, 8, 4001, dtype=np.float32)
    exact = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()])
    assert float(np.abs(embedder._gelu(x) - exact).max()) < 2e-6


def test_load_embedder_modes(embedder: MiniLmEmbedder) -> None:
    assert load_embedder("off") is None
    auto = load_embedder("auto")
    assert isinstance(auto, MiniLmEmbedder)
    assert isinstance(load_embedder("minilm"), MiniLmEmbedder)
    with pytest.raises(ValueError, match="off, auto, minilm"):
        load_embedder("bert-large")


def test_missing_extra(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)  # import now fails
    with pytest.raises(EmbeddingsUnavailable, match=r"bastion-gateway\[embeddings\]"):
        load_embedder("minilm")
    with caplog.at_level(logging.INFO, logger="bastion.documents"):
        assert load_embedder("auto") is None
    (record,) = [r for r in caplog.records if r.name == "bastion.documents"]
    assert record.levelno == logging.INFO
    assert "lexical-only" in record.getMessage()
    assert "bastion-gateway[embeddings]" in record.getMessage()


def test_missing_model_files(embedder: MiniLmEmbedder, tmp_path: Path) -> None:
    with pytest.raises(EmbeddingsUnavailable, match=r"model\.safetensors"):
        MiniLmEmbedder(tmp_path)


def test_import_is_light() -> None:
    code = (
        "import sys, bastion.documents.embed\n"
        "heavy = {'numpy', 'tokenizers', 'safetensors'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
