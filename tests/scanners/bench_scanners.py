"""Rough per-call timings of the scanners (a developer aid, not a test).

Run from the repo root::

    .venv/bin/python tests/scanners/bench_scanners.py
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import cast

from bastion.policy import DEFAULT_SYSTEM_PROMPT, default_policy
from bastion.scanners import (
    ScanContext,
    Scanner,
    Stage,
    build_pipeline,
    default_registry,
    generate_canary,
)

PROSE = (
    "Please summarise the attached quarterly report for the board, highlight revenue "
    "changes versus last year, list the three largest risks, and suggest next steps. "
)
CODEY = (
    "def load(path):\n    cfg = read_config(path)  # uses the AWS region and a task-id\n"
    "    return cfg.get('api_key_name', 'default-value')\n"
)


def _per_call(fn: Callable[[], object], number: int = 2000) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e6


def main() -> None:
    pipeline = build_pipeline(default_policy(), default_registry())
    ctx_in = ScanContext(stage=Stage.INPUT)
    ctx_out = ScanContext(
        stage=Stage.OUTPUT,
        secrets={"canary": generate_canary(), "system_prompt": DEFAULT_SYSTEM_PROMPT},
    )
    samples = {
        "prose": (PROSE * 8)[:1024],
        "code": (CODEY * 8)[:1024],
        "multilingual": ("Résumé: 会议记录 — обсуждение бюджета; می‌خواهم 👍 " * 20)[:1024],
    }
    loop = asyncio.new_event_loop()
    try:
        for label, text in samples.items():
            for stage, ctx in ((Stage.INPUT, ctx_in), (Stage.OUTPUT, ctx_out)):
                for scanner in pipeline.scanners(stage):
                    scan = cast(Scanner, scanner).scan
                    us = _per_call(functools.partial(scan, text, ctx))
                    print(f"{label:12s} {stage.value:6s} {scanner.name:18s} {us:7.1f} us")

            def once(text: str = text) -> object:
                return loop.run_until_complete(pipeline.run(Stage.INPUT, text, ctx_in))

            us = _per_call(once)
            print(f"{label:12s} input pipeline (incl. event-loop round trip) {us:7.1f} us")
    finally:
        loop.close()


if __name__ == "__main__":
    main()
