"""An optional external transformer classifier (ONNX), off by default.

Enable it in the policy::

    [scanners.prompt_injection.external]
    path = "/opt/models/injection.onnx"
    sha256 = "<64 hex digits of the .onnx file>"
    tokenizer = "/opt/models/tokenizer.json"   # default: tokenizer.json beside the model
    threshold = 0.5                              # blocks on its own when reached

The model contract: a Hugging Face ``tokenizers`` tokenizer (``tokenizer.json``) and
an ONNX graph taking ``input_ids`` and ``attention_mask`` (int64, shape ``[1, n]``,
``n <= max_tokens``, default 512) and returning logits of shape ``[1, 2]`` (index 1 =
attack, softmaxed) or ``[1, 1]`` (sigmoid). It reads the normalized text. Sequence
classification models exported with ``optimum`` (for example a DeBERTa
prompt-injection classifier) fit this contract.

Start-up fails closed, with a message saying what to fix: the file's SHA-256 is
checked before anything is loaded, and ``onnxruntime``/``tokenizers`` are imported
only here, so a missing extra names ``pip install 'bastion-gateway[onnx]'``. Any
other classifier can be passed to :class:`PromptInjectionScanner` as ``external=``
(an object with ``score(text) -> float``).
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bastion.integrity import ArtifactIntegrityError, sha256_file

__all__ = [
    "ExternalIntegrityError",
    "ExternalModelError",
    "OnnxClassifier",
    "load_external",
    "sha256_file",
]

_INSTALL = "pip install 'bastion-gateway[onnx]'"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEYS = frozenset({"path", "sha256", "tokenizer", "threshold", "max_tokens"})


class ExternalModelError(ValueError):
    """The external classifier cannot be used; the message says what to fix."""


class ExternalIntegrityError(ExternalModelError, ArtifactIntegrityError):
    """The external classifier's file does not match the SHA-256 its policy pins."""

    def __init__(self, message: str, *, path: Path, expected: str, actual: str) -> None:
        ArtifactIntegrityError.__init__(
            self, message, artifact="onnx_classifier", path=path, expected=expected, actual=actual
        )


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExternalModelError(
            f"the external classifier needs {module}, which is not installed: {_INSTALL}"
        ) from None


class OnnxClassifier:
    """P(attack) from an ONNX sequence classifier (see the module docstring)."""

    def __init__(self, session: Any, tokenizer: Any, *, max_tokens: int = 512) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._max_tokens = max_tokens
        self._numpy = _import("numpy")

    def __repr__(self) -> str:
        return f"OnnxClassifier(max_tokens={self._max_tokens})"

    def score(self, text: str) -> float:
        np = self._numpy
        ids = list(self._tokenizer.encode(text).ids)[: self._max_tokens] or [0]
        feed = {
            "input_ids": np.array([ids], dtype=np.int64),
            "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
        }
        logits = [float(x) for x in self._session.run(None, feed)[0][0]]
        if len(logits) == 1:
            return 1.0 / (1.0 + math.exp(-logits[0]))
        top = max(logits)
        exps = [math.exp(x - top) for x in logits]
        return exps[1] / sum(exps)


def load_external(scanner: str, spec: object) -> tuple[OnnxClassifier, float]:
    """The verified classifier and its threshold from the ``external`` option table."""
    if not isinstance(spec, Mapping):
        raise ExternalModelError(f"{scanner}: option 'external' must be a table")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise ExternalModelError(f"{scanner}: unknown option 'external.{unknown[0]}'")
    path_value, expected = spec.get("path"), spec.get("sha256")
    if not isinstance(path_value, str) or not path_value:
        raise ExternalModelError(f"{scanner}: option 'external.path' must name an .onnx file")
    if not isinstance(expected, str) or _HEX64.fullmatch(expected.lower()) is None:
        raise ExternalModelError(f"{scanner}: option 'external.sha256' must be 64 hex digits")
    threshold = spec.get("threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ExternalModelError(f"{scanner}: option 'external.threshold' must be a number")
    if not 0 < threshold <= 1:
        raise ExternalModelError(f"{scanner}: option 'external.threshold' must be in (0, 1]")
    max_tokens = spec.get("max_tokens", 512)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ExternalModelError(f"{scanner}: option 'external.max_tokens' must be an integer >= 1")
    path = Path(path_value)
    tokenizer_path = Path(spec.get("tokenizer") or path.with_name("tokenizer.json"))
    for file in (path, tokenizer_path):
        if not file.is_file():
            raise ExternalModelError(f"{scanner}: external classifier file {file} does not exist")
    actual = sha256_file(path)
    if actual != expected.lower():
        raise ExternalIntegrityError(
            f"{scanner}: external classifier {path} has SHA-256 {actual}, but the policy "
            f"pins {expected.lower()}; refusing to load it (update 'external.sha256' only "
            "if you trust the new file)",
            path=path,
            expected=expected.lower(),
            actual=actual,
        )
    ort = _import("onnxruntime")
    tokenizers = _import("tokenizers")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_path))
    return OnnxClassifier(session, tokenizer, max_tokens=max_tokens), float(threshold)
