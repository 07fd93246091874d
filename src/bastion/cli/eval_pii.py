"""``bastion eval pii``: precision, recall and F1 per entity type of the DLP detectors
on span-labeled data, with latency per text. Prints counts and rates only, never a
dataset's text (see :mod:`bastion.evaluation.pii`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bastion.cli.common import die
from bastion.evaluation import DatasetError
from bastion.evaluation.metrics import Confusion
from bastion.evaluation.pii import Match, PiiReport, Span, evaluate_pii, load_pii_file

__all__ = ["pii"]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _row(name: str, scores: Confusion) -> dict[str, object]:
    return {
        "type": name,
        "tp": scores.tp,
        "fp": scores.fp,
        "fn": scores.fn,
        "precision": scores.precision,
        "recall": scores.recall,
        "f1": scores.f1,
    }


def _payload(report: PiiReport, match: str) -> dict[str, object]:
    return {
        "match": match,
        "texts": report.texts,
        "types": [_row(name, s) for name, s in report.by_type.items()],
        "overall": _row("overall", report.overall),
        "unsupported_gold_spans": dict(report.unsupported),
        "unlabeled_findings": dict(report.unlabeled),
        "latency_p50_ms": report.p50_ms,
        "latency_p99_ms": report.p99_ms,
    }


def _table(report: PiiReport) -> str:
    lines = [f"{'type':<16}{'gold':>6}{'found':>7}{'prec':>8}{'recall':>8}{'f1':>8}"]
    rows = [*report.by_type.items(), ("overall", report.overall)]
    for name, s in rows:
        lines.append(
            f"{name:<16}{s.tp + s.fn:>6}{s.tp + s.fp:>7}{_fmt(s.precision):>8}"
            f"{_fmt(s.recall):>8}{_fmt(s.f1):>8}"
        )
    return "\n".join(lines)


def pii(
    dataset: list[Path] = typer.Option(
        ..., "--dataset", "-d", help="Span-labeled JSON or JSONL (Presidio's format)."
    ),
    match: str = typer.Option(
        "exact",
        help="Span matching: exact, overlap (one to one) or cover (the gold spans any "
        "finding overlaps).",
    ),
    names: str = typer.Option(
        "",
        help="Also find person names (the ner extra): 'default' or a spaCy model package.",
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON document instead of a table."),
) -> None:
    """Precision, recall, F1 per entity type and latency of the DLP detectors."""
    matches: dict[str, Match] = {"exact": "exact", "overlap": "overlap", "cover": "cover"}
    if match not in matches:
        die(f"unknown match {match!r:.40}: use exact, overlap or cover")
    how = matches[match]
    try:
        items = [item for path in dataset for item in load_pii_file(path)]
    except DatasetError as exc:
        die(str(exc))
    from bastion.dlp._names import NerUnavailable, load_names
    from bastion.dlp.detectors import PiiDetector

    try:
        name_detector = load_names(None if names == "default" else names) if names else None
    except NerUnavailable as exc:
        die(str(exc))
    detector = PiiDetector(names=name_detector)

    def detect(text: str) -> list[Span]:
        return [(str(f.type), f.start, f.end) for f in detector.detect(text)]

    report = evaluate_pii(items, detect, [str(t) for t in detector.entities], match=how)
    if as_json:
        typer.echo(json.dumps(_payload(report, match), indent=2))
        return
    typer.echo(f"{report.texts} texts, {match} span match")
    typer.echo(_table(report))
    if report.unsupported:
        typer.echo(
            "gold spans of types not detected here: "
            + ", ".join(f"{k} {v}" for k, v in report.unsupported.items())
        )
    if report.unlabeled:
        typer.echo(
            "found, of types this data does not label (not scored): "
            + ", ".join(f"{k} {v}" for k, v in report.unlabeled.items())
        )
    typer.echo(f"latency per text: p50 {_fmt(report.p50_ms)} ms, p99 {_fmt(report.p99_ms)} ms")
