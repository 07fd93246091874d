"""``bastion eval``: measure detectors on labeled datasets (metrics defined in
``bastion.evaluation.metrics``). Prints counts and rates only, never a dataset's text.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bastion.cli.common import die
from bastion.cli.eval_pii import pii
from bastion.evaluation import (
    GROUPS,
    PRESETS,
    DatasetError,
    Scorer,
    Summary,
    decision_threshold,
    injection_scorer,
    resolve,
    score_dataset,
    summarise,
)

__all__ = ["eval_app"]

DEFAULT_DATA_ROOT = Path("/work/shared/data")
_COLUMNS = (
    ("dataset", 28),
    ("items", 6),
    ("attack", 6),
    ("benign", 6),
    ("prec", 6),
    ("recall", 6),
    ("f1", 6),
    ("fpr", 6),
    ("r@1%fpr", 7),
    ("p50 ms", 7),
    ("p99 ms", 7),
)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(rows: list[Summary]) -> str:
    header = " ".join(
        name.rjust(width) if i else name.ljust(width) for i, (name, width) in enumerate(_COLUMNS)
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        c = row.confusion
        cells = (
            row.name[:28],
            str(row.items),
            str(row.attacks),
            str(row.benign),
            _fmt(c.precision),
            _fmt(c.recall),
            _fmt(c.f1),
            _fmt(c.fpr),
            _fmt(row.recall_at_1pct_fpr),
            _fmt(row.p50_ms),
            _fmt(row.p99_ms),
        )
        lines.append(
            " ".join(
                cell.rjust(width) if i else cell.ljust(width)
                for i, (cell, (_, width)) in enumerate(zip(cells, _COLUMNS, strict=True))
            )
        )
    return "\n".join(lines)


def injection(
    dataset: list[str] = typer.Option(
        ...,
        "--dataset",
        "-d",
        help="PATH[:attack|benign], a preset or a group; repeat for several.",
    ),
    threshold: float | None = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help="Flag when score >= T. Default: where the scanner blocks text of --role "
        "(0.5 for the user's words, 0.35 for documents and tool results); 0.5 with --model.",
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON document instead of a table."),
    data_root: Path = typer.Option(
        DEFAULT_DATA_ROOT, help="Folder the presets are read from (shared/data layout)."
    ),
    model: Path | None = typer.Option(
        None, help="Score with the bare model in this folder (MANIFEST.json checked)."
    ),
    role: str = typer.Option(
        "user",
        help="Message role the scanner sees: user (direct profile), or document, tool... "
        "(the indirect profile for untrusted content).",
    ),
) -> None:
    """Precision, recall, F1, FPR, recall at FPR <= 1% and latency per dataset."""
    from bastion.scanners.injection.scanner import INDIRECT_ROLES

    if role not in INDIRECT_ROLES | {"user", "assistant", "system"}:
        die(
            f"unknown role {role!r}: use user, assistant, system or one of "
            + ", ".join(sorted(INDIRECT_ROLES))
        )
    try:
        datasets = [ds for spec in dataset for ds in resolve(spec, data_root)]
    except (DatasetError, OSError) as exc:
        die(str(exc))
    scorer: Scorer
    if model is not None:
        from bastion.scanners.injection.model import InjectionModel, ModelIntegrityError

        try:
            loaded = InjectionModel.load(model)
        except ModelIntegrityError as exc:
            die(str(exc))
        scorer, note = loaded.score, f"model {loaded.version} from {model}"
    else:
        scorer, note = injection_scorer(role)
    if threshold is None:
        threshold = 0.5 if model is not None else decision_threshold(role)
    scores = [score_dataset(ds, scorer) for ds in datasets]
    pooled = [s for d in scores for s in d.benign_scores]
    rows = summarise(scores, threshold, pooled)
    if as_json:
        payload = {"scorer": note, "threshold": threshold, "datasets": [r.as_dict() for r in rows]}
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(note)
    typer.echo(f"threshold {threshold}; r@1%fpr: threshold set on all {len(pooled)} benign items")
    typer.echo(_table(rows))


def eval_app() -> typer.Typer:
    app = typer.Typer(help="Measure Bastion's detectors on labeled data.", no_args_is_help=True)
    app.command(
        epilog="Presets: " + ", ".join(sorted(PRESETS)) + ". Groups: " + ", ".join(sorted(GROUPS))
    )(injection)
    app.command()(pii)
    return app
