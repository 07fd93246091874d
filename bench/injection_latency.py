"""Injection detection latency: the full ``prompt_injection`` scanner on 1 KB prompts and
32 KB documents, against the ``secrets`` scanner on the same texts in the same run.

A prompt is scanned as the user's words (role ``user``: the direct profile); a document
as untrusted content (role ``document``: the indirect profile, as the gateway scans
retrieved documents and tool results). The 32 KB texts are also timed as one user
prompt (``p99_ms_32kb_prompt``), which the direct profile scores twice per window.

Texts are drawn from the shared public data (attack and benign sets, concatenated
and cut to size) or, when that folder is absent (CI), synthesized. Falls back to the
bare ``InjectionModel`` while the scanner is not registered. One core, one thread.
Prints p50/p99 per size, the ratio to the baseline, a 1 MB timing line, and ends with
one ``RESULT`` line.

    python bench/injection_latency.py [--data-root DIR] [--items N]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path

from bastion.evaluation import injection_scorer, percentile, resolve
from bastion.scanners import ScanContext, SecretsScanner, Stage
from bastion.scanners.injection.model import InjectionModel

SOURCES = ("issue-benign", "held-out-attacks")


def corpus(root: Path) -> str:
    if root.is_dir():
        texts = [e.text for spec in SOURCES for ds in resolve(spec, root) for e in ds.examples]
        if texts:
            random.Random(7).shuffle(texts)
            return "\n\n".join(texts)
    rng = random.Random(7)
    words = [
        "the",
        "quarterly",
        "report",
        "revenue",
        "ignore",
        "previous",
        "instructions",
        "invoice",
        "customer",
    ]
    return " ".join(rng.choice(words) for _ in range(200_000))


def samples(text: str, size: int, count: int) -> list[str]:
    rng = random.Random(size)
    span = max(1, len(text) - size)
    return [text[start : start + size] for start in (rng.randrange(span) for _ in range(count))]


def timed(fn: Callable[[str], float], texts: list[str]) -> list[float]:
    for text in texts[:10]:  # warm caches
        fn(text)
    out = []
    for text in texts:
        start = time.perf_counter_ns()
        fn(text)
        out.append((time.perf_counter_ns() - start) / 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()

    scorer, note = injection_scorer("user")
    document_scorer, document_note = injection_scorer("document")
    print(note)
    print(document_note)
    secrets = SecretsScanner({})
    context = ScanContext(stage=Stage.INPUT)

    def baseline(text: str) -> float:
        return secrets.scan(text, context).score

    model = InjectionModel.load_default()
    text = corpus(args.data_root)
    results: dict[str, float] = {}
    runs = (
        ("1kb", 1024, args.items, scorer),
        ("32kb", 32768, args.items // 5, document_scorer),
        ("32kb_prompt", 32768, args.items // 5, scorer),
    )
    for label, size, count, scan in runs:
        batch = samples(text, size, count)
        ours = timed(scan, batch)
        base = timed(baseline, batch)
        bare = timed(model.score, batch)
        results[f"model_p99_ms_{label}"] = percentile(bare, 99) or 0.0
        p50, p99 = percentile(ours, 50) or 0.0, percentile(ours, 99) or 0.0
        b50, b99 = percentile(base, 50) or 0.0, percentile(base, 99) or 0.0
        results[f"p99_ms_{label}"] = p99
        results[f"ratio_p99_{label}_vs_secrets"] = p99 / b99 if b99 else float("inf")
        print(
            f"{label:>11} x{count}: injection p50 {p50:.3f} ms p99 {p99:.3f} ms | "
            f"secrets p50 {b50:.3f} ms p99 {b99:.3f} ms | ratio p99 {p99 / b99:.1f}x | "
            f"model alone p50 {percentile(bare, 50) or 0.0:.3f} ms p99 "
            f"{results[f'model_p99_ms_{label}']:.3f} ms"
        )
    big = (text * (1 + (1 << 20) // max(len(text), 1)))[: 1 << 20]
    start = time.perf_counter()
    scorer(big)
    results["ms_1mb"] = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    model.score(big)
    results["model_ms_1mb"] = (time.perf_counter() - start) * 1000
    print(
        f"        1mb x1: injection {results['ms_1mb']:.1f} ms, "
        f"model alone {results['model_ms_1mb']:.1f} ms (head and tail 32 KB scored)"
    )
    print("RESULT " + " ".join(f"{k}={v:.3f}" for k, v in results.items()))


if __name__ == "__main__":
    main()
