"""The shipped attack corpus (``data/corpus.jsonl``, built by
``training/build_redteam_corpus.py``; sources in ``data/PROVENANCE.md``)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from importlib import resources

__all__ = ["GOAL_SLOT", "Attack", "load_corpus"]

GOAL_SLOT = "{GOAL}"


@dataclass(frozen=True, slots=True)
class Attack:
    """One attack. ``text`` and ``values`` are attack material: never logged or shown,
    and left out of the repr."""

    id: str
    scenario: str
    vector: str
    source: str
    text: str = field(repr=False)
    values: tuple[str, ...] = field(default=(), repr=False)
    kind: str = ""


def load_corpus() -> list[Attack]:
    """Every attack of the shipped corpus, in file order (deterministic)."""
    raw = resources.files("bastion.governance.redteam").joinpath("data/corpus.jsonl")
    attacks = []
    for line in raw.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        decode = _b64 if row.get("encoding") == "base64" else _plain
        attacks.append(
            Attack(
                id=row["id"],
                scenario=row["scenario"],
                vector=row["vector"],
                source=row["source"],
                text=decode(row["text"]),
                values=tuple(decode(v) for v in row.get("values", ())),
                kind=row.get("kind", ""),
            )
        )
    return attacks


def _plain(text: str) -> str:
    return text


def _b64(text: str) -> str:
    return base64.b64decode(text).decode("utf-8")
