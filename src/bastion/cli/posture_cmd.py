"""``bastion posture``: the go-live checklist against the live deployment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bastion.cli.common import die, now, open_admin_engine, settings_or_exit

if TYPE_CHECKING:
    from bastion.governance.posture import PostureReport

__all__ = ["posture"]

_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


def _json(report: PostureReport) -> str:
    return json.dumps(
        {
            "checked_at": report.checked_at.isoformat(),
            "ok": not report.failures,
            "results": [
                {
                    "id": r.id,
                    "title": r.title,
                    "status": r.status,
                    "evidence": r.evidence,
                    "fix": r.fix,
                }
                for r in report.results
            ],
        },
        indent=2,
    )


def _markdown(report: PostureReport) -> str:
    lines = [
        "# Bastion posture",
        "",
        f"Checked {report.checked_at.isoformat()}: "
        f"{len(report.failures)} failing of {len(report.results)} checks.",
        "",
        "| status | check | evidence | fix |",
        "|---|---|---|---|",
    ]
    for r in report.results:
        cells = [_MARK[r.status], r.title, r.evidence, r.fix]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _table(report: PostureReport) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table("status", "check", "evidence", "fix")
    colour = {"pass": "green", "warn": "yellow", "fail": "red"}
    for r in report.results:
        mark = f"[{colour[r.status]}]{_MARK[r.status]}[/]"
        table.add_row(mark, escape(r.title), escape(r.evidence), escape(r.fix))
    Console(width=200).print(table)


def posture(
    format: str = typer.Option("table", "--format", help="table, json or markdown."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here too."),
    only: str = typer.Option("", help="Comma-separated check ids (default: all)."),
) -> None:
    """Evaluate the pre- and post-deployment checklist; exit 1 when a check fails."""
    from bastion.governance.posture import evaluate

    if format not in ("table", "json", "markdown"):
        die("--format must be table, json or markdown")
    settings = settings_or_exit()
    engine = open_admin_engine(settings)
    try:
        report = evaluate(settings, engine, now, [c for c in only.split(",") if c])
    finally:
        engine.dispose()
    if format == "table":
        _table(report)
    else:
        typer.echo(_json(report) if format == "json" else _markdown(report))
    if output is not None:
        text = _markdown(report) if output.suffix == ".md" else _json(report)
        output.write_text(text + "\n", encoding="utf-8")
    raise typer.Exit(report.exit_code)
