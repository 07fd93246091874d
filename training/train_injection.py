"""Train Bastion's prompt-injection classifier and write the shipped model files.

    .venv/bin/python training/train_injection.py [DATA_ROOT] [--out DIR]

DATA_ROOT defaults to /work/shared/data; --out to the package's model folder. The run
is deterministic: sorted inputs, fixed seeds, full-batch optimisation without
threads, JSON written with sorted keys. It prints the SHA-256 of every file it writes
and the manifest hash to pin in ``bastion/scanners/injection/model.py``.

Pipeline: build the corpus (``_corpus.py``), cut long texts into the same
half-overlapping token windows the model scores, split off a calibration fifth by
hash of the text, select features by document frequency, fit an L2 logistic
regression (Adam, class-balanced), keep the strongest ``--max-features`` weights and
refit, then fit Platt scaling on the calibration fifth.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import Sample, build_corpus
from bastion.scanners.injection._features import NORM_PSEUDOCOUNT, tokenize, window_features
from bastion.scanners.injection.model import FORMAT, InjectionModel

WINDOW = 256
MAX_CHARS = 65536
VERSION = "lr-ngram-4"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "src/bastion/scanners/injection/data"


def windows(text: str, window: int = WINDOW) -> list[list[str]]:
    """Each window's feature names, as the model cuts them (``_best_window``)."""
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS // 2] + "\n" + text[-MAX_CHARS // 2 :]
    tokens = tokenize(text)
    size = len(tokens)
    starts = list(range(0, max(size - window, 0) + 1, window // 2))
    if starts[-1] + window < size:
        starts.append(size - window)
    return [window_features(tokens, start, min(start + window, size)) for start in starts]


def is_calibration(text: str) -> bool:
    return hashlib.sha256(text.encode()).digest()[0] % 5 == 0


class Matrix:
    """A CSR-like sparse matrix: rows of (feature index, count / sqrt(row features))."""

    def __init__(self, rows: list[list[str]], index: dict[str, int]) -> None:
        row_ids: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, names in enumerate(rows):
            norm = 1.0 / math.sqrt(max(len(names), 1) + NORM_PSEUDOCOUNT)
            for name, count in sorted(Counter(names).items()):
                j = index.get(name)
                if j is not None:
                    row_ids.append(r)
                    cols.append(j)
                    vals.append(count * norm)
        self.rows = np.asarray(row_ids, dtype=np.int64)
        self.cols = np.asarray(cols, dtype=np.int64)
        self.vals = np.asarray(vals, dtype=np.float64)
        self.shape = (len(rows), len(index))

    def dot(self, w: np.ndarray) -> np.ndarray:
        return np.bincount(self.rows, self.vals * w[self.cols], minlength=self.shape[0])

    def tdot(self, g: np.ndarray) -> np.ndarray:
        return np.bincount(self.cols, self.vals * g[self.rows], minlength=self.shape[1])


def fit(x: Matrix, y: np.ndarray, l2: float, steps: int) -> tuple[np.ndarray, float]:
    """Class-balanced L2 logistic regression, full-batch Adam (deterministic)."""
    weight = np.where(y == 1, 0.5 / y.sum(), 0.5 / (len(y) - y.sum()))
    params = np.zeros(x.shape[1] + 1)
    m = np.zeros_like(params)
    v = np.zeros_like(params)
    lr, b1, b2 = 0.05, 0.9, 0.999
    for t in range(1, steps + 1):
        z = x.dot(params[:-1]) + params[-1]
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))
        g = (p - y) * weight
        grad = np.concatenate([x.tdot(g) + l2 * params[:-1], [g.sum()]])
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        step = lr * (1 - t / (steps + 1))
        params -= step * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + 1e-8)
    return params[:-1], float(params[-1])


def platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Fit P = sigmoid(a * logit + b) by Newton's method, classes weighted equally."""
    weight = np.where(y == 1, 0.5 / y.sum(), 0.5 / (len(y) - y.sum()))
    a, b = 1.0, 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(a * logits + b, -35, 35)))
        g = np.array([np.sum(weight * (p - y) * logits), np.sum(weight * (p - y))])
        h = weight * p * (1 - p)
        hess = np.array(
            [
                [np.sum(h * logits * logits) + 1e-6, np.sum(h * logits)],
                [np.sum(h * logits), np.sum(h) + 1e-6],
            ]
        )
        da, db = np.linalg.solve(hess, g)
        a, b = a - da, b - db
    return float(a), float(b)


def write_model(
    out: Path,
    features: list[str],
    w: np.ndarray,
    bias: float,
    cal: tuple[float, float],
    window: int = WINDOW,
) -> str:
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "window_tokens": window,
        "max_chars": MAX_CHARS,
        "bias": round(bias, 8),
        "calibration": {"a": round(cal[0], 8), "b": round(cal[1], 8)},
        "features": features,
    }
    files = {
        "model.json": (
            json.dumps(meta, sort_keys=True, ensure_ascii=False, indent=0) + "\n"
        ).encode(),
        "weights.f32": w.astype("<f4").tobytes(),
    }
    digests = {}
    for name, data in files.items():
        (out / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
        print(f"wrote {out / name}: {len(data)} bytes, sha256 {digests[name]}")
    manifest = (
        json.dumps({"format": FORMAT, "files": digests}, sort_keys=True, indent=2) + "\n"
    ).encode()
    (out / "MANIFEST.json").write_bytes(manifest)
    manifest_sha = hashlib.sha256(manifest).hexdigest()
    print(f"wrote {out / 'MANIFEST.json'}: sha256 {manifest_sha} (pin as DEFAULT_MODEL_SHA256)")
    return manifest_sha


def train(
    samples: list[Sample],
    out: Path,
    *,
    max_features: int = 60000,
    min_df: int = 2,
    l2: float = 0.1,
    steps: int = 300,
    window: int = WINDOW,
) -> str:
    """Fit the model on ``samples`` (in this order) and write it to ``out``; returns the
    manifest SHA-256. Deterministic: same samples and options, same bytes."""
    fit_rows: list[list[str]] = []
    fit_y: list[int] = []
    calib: list[Sample] = []
    for sample in samples:
        if is_calibration(sample.text):
            calib.append(sample)
            continue
        for names in windows(sample.text, window):
            fit_rows.append(names)
            fit_y.append(int(sample.attack))
    df = Counter(name for names in fit_rows for name in set(names))
    vocab = sorted((n for n, c in df.items() if c >= min_df), key=lambda n: (-df[n], n))
    index = {name: i for i, name in enumerate(vocab)}
    y = np.asarray(fit_y, dtype=np.float64)
    # The loss is a class-balanced mean over windows, so the penalty is divided by their
    # number: a fixed prior whatever the corpus size (0.1 / 10,958 windows ~ 9e-6).
    penalty = l2 / max(len(fit_rows), 1)
    print(
        f"fit windows {len(fit_rows)} (attack {int(y.sum())}), candidates {len(vocab)}, "
        f"l2 {penalty:.3g} on the mean loss"
    )
    w, _ = fit(Matrix(fit_rows, index), y, penalty, steps)
    keep = sorted(np.argsort(-np.abs(w), kind="stable")[:max_features].tolist())
    features = [vocab[i] for i in keep]
    index = {name: i for i, name in enumerate(features)}
    w, bias = fit(Matrix(fit_rows, index), y, penalty, steps)

    raw = InjectionModel(
        features,
        w.astype(np.float32).tolist(),
        bias=bias,
        calibration=(1.0, 0.0),
        window=window,
        max_chars=MAX_CHARS,
        version=VERSION,
        sha256="",
    )
    eps = 1e-12
    logits = np.asarray(
        [math.log(max(p, eps) / max(1 - p, eps)) for p in (raw.score(s.text) for s in calib)]
    )
    cal_y = np.asarray([int(s.attack) for s in calib], dtype=np.float64)
    cal = platt(logits, cal_y)
    probs = 1 / (1 + np.exp(-np.clip(cal[0] * logits + cal[1], -35, 35)))
    pred = probs >= 0.5
    tp = int(np.sum(pred & (cal_y == 1)))
    fp = int(np.sum(pred & (cal_y == 0)))
    print(
        f"calibration split: {len(calib)} texts, a={cal[0]:.4f} b={cal[1]:.4f}, "
        f"recall {tp / max(cal_y.sum(), 1):.4f}, fpr {fp / max(len(cal_y) - cal_y.sum(), 1):.4f}"
    )
    return write_model(out, features, w, bias, cal, window)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_root", nargs="?", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--max-features", type=int, default=60000)
    parser.add_argument("--min-df", type=int, default=2)
    parser.add_argument(
        "--l2",
        type=float,
        default=0.1,
        help="L2 penalty of the whole training set (divided by the number of fit windows)",
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20260417)
    parser.add_argument("--window", type=int, default=WINDOW)
    args = parser.parse_args(argv)

    samples: list[Sample] = sorted(
        set(build_corpus(args.data_root, args.seed)), key=lambda s: (s.text, s.attack, s.source)
    )
    by_source = Counter((s.source, s.attack) for s in samples)
    for (source, attack), n in sorted(by_source.items()):
        print(f"corpus {'attack' if attack else 'benign'} {source}: {n}")
    train(
        samples,
        args.out,
        max_features=args.max_features,
        min_df=args.min_df,
        l2=args.l2,
        steps=args.steps,
        window=args.window,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
