"""The statistical prompt-injection / jailbreak classifier: pure Python at inference.

A logistic regression over word unigrams and bigrams, character 3- and 5-grams within
words, token shapes and dense gibberish features (see :mod:`._features`), trained by
``training/train_injection.py`` and shipped as plain data in ``data/``:

- ``model.json``: the feature vocabulary, the bias, the window size and the Platt
  calibration (``P(attack) = sigmoid(a * logit + b)``, so 0.5 means even odds);
- ``weights.f32``: one little-endian float32 per vocabulary entry;
- ``MANIFEST.json``: the SHA-256 of both files, checked before anything is parsed.
  The default model's manifest hash is also pinned here (:data:`DEFAULT_MODEL_SHA256`),
  so a swapped manifest is caught too.

Scoring lower-cases and tokenizes the text, looks up each token's summed feature
weights, then slides a window of ``window`` tokens (half-overlapping) and keeps the
most attack-like one: an injection buried in a long document is not diluted by it.
Each *distinct* token and bigram of a window counts once (repeated lines add nothing;
see :func:`._features.window_features`), and the window's sum is divided by the square
root of its feature count plus a pseudo-count (:data:`._features.NORM_PSEUDOCOUNT`), as
in training.
Inputs longer than ``max_chars`` are scored on their first and last ``max_chars / 2``
characters, so time and memory are bounded whatever the length.

The model is immutable once built: :meth:`InjectionModel.score` is pure and
thread-safe. Nothing here logs or raises with the text being scored.
"""

from __future__ import annotations

import array
import hashlib
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise, repeat
from pathlib import Path
from typing import Any

from bastion.integrity import ArtifactIntegrityError
from bastion.scanners.injection._features import (
    NORM_PSEUDOCOUNT,
    TOKEN_PATTERN,
    normalize_token,
    token_features,
    tokenize,
    window_features,
)

__all__ = ["DEFAULT_MODEL_DIR", "DEFAULT_MODEL_SHA256", "InjectionModel", "ModelIntegrityError"]

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "data"
# SHA-256 of data/MANIFEST.json as written by training/train_injection.py.
DEFAULT_MODEL_SHA256 = "7cfa0089a22b1af769fd0bea5fff9eeb42cc70a4671def627e68bbbb68076ccb"
# 3: a window's sum is divided by sqrt(features + NORM_PSEUDOCOUNT) (format 2 by
# sqrt(features)); 2: each distinct token and bigram of a window counts once (format 1
# counted every occurrence). Older weights would be mis-scored by this code: refused.
FORMAT = 3
_FILES = ("model.json", "weights.f32")
# Raw tokens outside the vocabulary whose contributions are memoised per model; the
# memo is emptied when it reaches this size, so memory stays bounded.
_MEMO_LIMIT = 65536


class ModelIntegrityError(ArtifactIntegrityError):
    """A model file is missing, malformed or does not match its recorded SHA-256."""

    def __init__(
        self, message: str, *, path: str | Path = "", expected: str = "", actual: str = ""
    ) -> None:
        super().__init__(
            message, artifact="injection_model", path=path, expected=expected, actual=actual
        )


@dataclass(frozen=True, slots=True)
class _Window:
    start: int
    end: int
    logit: float


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_manifest(directory: Path) -> tuple[dict[str, str], str]:
    path = directory / "MANIFEST.json"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelIntegrityError(f"injection model manifest missing: {path}") from exc
    try:
        files = json.loads(raw)["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelIntegrityError(f"injection model manifest is malformed: {path}") from exc
    if not isinstance(files, dict) or sorted(files) != sorted(_FILES):
        raise ModelIntegrityError(f"injection model manifest must list {', '.join(_FILES)}")
    return {str(k): str(v) for k, v in files.items()}, hashlib.sha256(raw).hexdigest()


def _verify(directory: Path, expected_manifest: str | None) -> str:
    files, manifest_sha = _read_manifest(directory)
    if expected_manifest is not None and manifest_sha != expected_manifest:
        raise ModelIntegrityError(
            f"injection model manifest {directory / 'MANIFEST.json'} has SHA-256 "
            f"{manifest_sha[:16]}…, expected {expected_manifest[:16]}…; refusing to load "
            "(reinstall the package or retrain with training/train_injection.py)",
            path=directory / "MANIFEST.json",
            expected=expected_manifest,
            actual=manifest_sha,
        )
    for name in _FILES:
        path = directory / name
        try:
            actual = _sha256(path)
        except OSError as exc:
            raise ModelIntegrityError(f"injection model file missing: {path}") from exc
        if actual != files[name]:
            raise ModelIntegrityError(
                f"injection model file {path} does not match MANIFEST.json "
                f"(SHA-256 {actual[:16]}…, expected {files[name][:16]}…); refusing to load",
                path=path,
                expected=files[name],
                actual=actual,
            )
    return manifest_sha


def _read_weights(path: Path, count: int) -> list[float]:
    weights = array.array("f")
    weights.frombytes(path.read_bytes())
    if sys.byteorder == "big":
        weights.byteswap()
    if len(weights) != count:
        raise ModelIntegrityError(
            f"injection model has {len(weights)} weights for {count} features: {path}"
        )
    return weights.tolist()


def _number(meta: dict[str, Any], key: str) -> float:
    value = meta.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ModelIntegrityError(f"injection model.json: {key!r} must be a number")
    return float(value)


class InjectionModel:
    """Calibrated P(attack) for a text. Build it with :meth:`load_default` or :meth:`load`."""

    __slots__ = (
        "_bias",
        "_bigrams",
        "_cal_a",
        "_cal_b",
        "_known",
        "_memo",
        "_stride",
        "_unigrams",
        "_window",
        "max_chars",
        "sha256",
        "version",
    )

    def __init__(
        self,
        features: Sequence[str],
        weights: Sequence[float],
        *,
        bias: float,
        calibration: tuple[float, float],
        window: int,
        max_chars: int,
        version: str,
        sha256: str,
    ) -> None:
        if len(features) != len(weights):
            raise ValueError("features and weights must have the same length")
        if window < 2 or max_chars < 2:
            raise ValueError("window and max_chars must be at least 2")
        self.version = version
        self.sha256 = sha256
        self.max_chars = max_chars
        self._bias = bias
        self._cal_a, self._cal_b = calibration
        self._window = window
        self._stride = max(1, window // 2)
        self._bigrams: dict[str, float] = {}
        self._unigrams: dict[str, float] = {}
        for name, weight in zip(features, weights, strict=True):
            if name.startswith("b:"):
                self._bigrams[name[2:]] = weight
            else:
                self._unigrams[name] = weight
        # Every vocabulary word's summed token features, precomputed: one lookup per token.
        self._known: dict[str, tuple[str, float, int]] = {
            name[2:]: (name[2:], *self._token_entry(name[2:]))
            for name in features
            if name.startswith("w:")
        }
        # Raw spelling -> (token, summed weight, feature count) for tokens seen while
        # scoring: a bounded memo (emptied at _MEMO_LIMIT entries). Entries are pure
        # functions of the token, so concurrent scoring can only recompute, never disagree.
        self._memo: dict[str, tuple[str, float, int]] = {}

    def __repr__(self) -> str:
        return f"InjectionModel(version={self.version!r}, sha256={self.sha256[:16]!r})"

    @classmethod
    def load_default(cls) -> InjectionModel:
        """The model shipped in the package; its manifest hash is pinned in this module."""
        return cls.load(DEFAULT_MODEL_DIR, expected_sha256=DEFAULT_MODEL_SHA256)

    @classmethod
    def load(cls, directory: Path, *, expected_sha256: str | None = None) -> InjectionModel:
        """A model from ``directory``, after checking every file against ``MANIFEST.json``.

        ``expected_sha256`` pins the manifest itself. Raises :class:`ModelIntegrityError`
        when anything does not match; nothing is parsed before the hashes are checked.
        """
        directory = Path(directory)
        manifest_sha = _verify(directory, expected_sha256)
        try:
            meta = json.loads((directory / "model.json").read_bytes())
        except ValueError as exc:
            raise ModelIntegrityError("injection model.json is not valid JSON") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelIntegrityError(f"injection model.json must have format {FORMAT}")
        features = meta.get("features")
        calibration = meta.get("calibration")
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise ModelIntegrityError("injection model.json: 'features' must be strings")
        if not isinstance(calibration, dict):
            raise ModelIntegrityError("injection model.json: 'calibration' must be a table")
        weights = _read_weights(directory / "weights.f32", len(features))
        return cls(
            features,
            weights,
            bias=_number(meta, "bias"),
            calibration=(_number(calibration, "a"), _number(calibration, "b")),
            window=int(_number(meta, "window_tokens")),
            max_chars=int(_number(meta, "max_chars")),
            version=str(meta.get("version", "")),
            sha256=manifest_sha,
        )

    def score(self, text: str) -> float:
        """Calibrated P(attack) in [0, 1] of the most attack-like window of ``text``."""
        return self._probability(self._best_window(text).logit)

    def explain(self, text: str, top: int = 5) -> list[tuple[str, float]]:
        """The ``top`` features of the best window with the largest contributions to the
        logit (by absolute value; positive pushes towards attack). For tests and debugging:
        feature names contain fragments of the text, never log them."""
        tokens = self._tokens(text)
        if not tokens or top <= 0:
            return []
        best = self._best_window(text)
        names = window_features(tokens, best.start, best.end)
        count = len(names)
        totals: dict[str, float] = {}
        for name in names:
            weight = (
                self._bigrams.get(name[2:], 0.0)
                if name.startswith("b:")
                else self._unigrams.get(name, 0.0)
            )
            if weight:
                totals[name] = totals.get(name, 0.0) + weight
        norm = 1.0 / math.sqrt(max(count, 1) + NORM_PSEUDOCOUNT)
        ranked = sorted(totals.items(), key=lambda item: (-abs(item[1]), item[0]))
        return [(name, weight * norm) for name, weight in ranked[:top]]

    # -- internals ---------------------------------------------------------------------

    def _tokens(self, text: str) -> list[str]:
        if len(text) > self.max_chars:
            half = self.max_chars // 2
            text = text[:half] + "\n" + text[-half:]
        return tokenize(text)

    def _probability(self, logit: float) -> float:
        z = self._cal_a * logit + self._cal_b
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def _token_entry(self, token: str) -> tuple[float, int]:
        names = token_features(token)
        get = self._unigrams.get
        return sum(get(name, 0.0) for name in names), len(names)

    def _entry(self, raw: str) -> tuple[str, float, int]:
        token = normalize_token(raw)
        entry = self._known.get(token)
        if entry is None:
            entry = (token, *self._token_entry(token))
        memo = self._memo
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[raw] = entry
        return entry

    def _best_window(self, text: str) -> _Window:
        if len(text) > self.max_chars:
            half = self.max_chars // 2
            text = text[:half] + "\n" + text[-half:]
        memo_get = self._memo.get
        known_get = self._known.get
        # One pass: the normalized tokens, and each distinct token's summed feature
        # weight and feature count.
        tokens: list[str] = []
        weight_of: dict[str, float] = {}
        count_of: dict[str, int] = {}
        for raw in TOKEN_PATTERN.findall(text):
            entry = memo_get(raw) or known_get(raw) or self._entry(raw)
            token = entry[0]
            tokens.append(token)
            weight_of[token] = entry[1]
            count_of[token] = entry[2]
        size = len(tokens)
        if not size:
            return _Window(0, 0, self._bias)
        # pairs[i] is the bigram (tokens[i], tokens[i + 1]).
        pairs = [a + " " + b for a, b in pairwise(tokens)]
        bigram_get = self._bigrams.get
        window = self._window
        starts = list(range(0, max(size - window, 0) + 1, self._stride))
        if starts[-1] + window < size:
            starts.append(size - window)
        best = _Window(0, 0, -math.inf)
        for start in starts:
            end = min(start + window, size)
            # Each distinct token and each distinct bigram of the window counts once, so
            # repeating a line does not add up its weights (as in training).
            distinct = set(tokens[start:end])
            grams = set(pairs[start : end - 1])
            total = sum(map(weight_of.__getitem__, distinct)) + sum(
                map(bigram_get, grams, repeat(0.0, len(grams)))
            )
            count = sum(map(count_of.__getitem__, distinct)) + len(grams)
            logit = self._bias + total / math.sqrt(max(count, 1) + NORM_PSEUDOCOUNT)
            if logit > best.logit:
                best = _Window(start, end, logit)
        return best
