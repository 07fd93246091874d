"""``bastion redteam``: attack a running Bastion and report what got through.

Exit codes: 0 nothing got through at high or critical severity, 1 something did,
2 bad usage (unreachable target, refused key, unknown scenario).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from bastion.cli.common import die
from bastion.governance.redteam import (
    SCENARIOS,
    GoalStyle,
    Outcome,
    RedTeamReport,
    RunOptions,
    TargetError,
    run_redteam,
    save_report,
    write_json,
    write_markdown,
)

__all__ = ["redteam"]

_STYLE = {
    Outcome.BLOCKED: "green",
    Outcome.GOT_THROUGH: "bold red",
    Outcome.ERROR: "yellow",
    Outcome.SKIPPED: "dim",
}


def _default_save_dir() -> Path | None:
    data_dir = os.environ.get("BASTION_DATA_DIR")
    return Path(data_dir) / "redteam" if data_dir else None


def _print(report: RedTeamReport, verbose: bool) -> None:
    console = Console(width=None if sys.stdout.isatty() else 200)
    summary = Table(
        "scenario",
        "blocked",
        "got through",
        "error",
        "skipped",
        title=f"Red team: {report.target} ({report.model})",
    )
    for scenario, row in report.counts().items():
        through = row["got_through"]
        summary.add_row(
            scenario,
            str(row["blocked"]),
            f"[bold red]{through}[/]" if through else "0",
            str(row["error"]),
            str(row["skipped"]),
        )
    console.print(summary)
    by_goal = report.goal_counts()
    if by_goal:
        styles = Table("scenario", "goal", "blocked", "got through", "error", "skipped")
        for scenario, rows in by_goal.items():
            for goal, row in rows.items():
                through = row["got_through"]
                styles.add_row(
                    scenario,
                    goal,
                    str(row["blocked"]),
                    f"[bold red]{through}[/]" if through else "0",
                    str(row["error"]),
                    str(row["skipped"]),
                )
        console.print(styles)
    shown = [f for f in report.findings if verbose or f.outcome is not Outcome.BLOCKED]
    if not shown:
        return
    table = Table("scenario", "attack", "goal", "outcome", "severity", "status", "code", "evidence")
    for f in sorted(shown, key=lambda f: (-f.severity.rank, f.scenario, f.attack_id)):
        ev = f.evidence
        detail = "; ".join(x for x in (", ".join(ev.markers), ev.note, ev.excerpt) if x)
        table.add_row(
            f.scenario,
            f.attack_id,
            f.goal,
            f"[{_STYLE[f.outcome]}]{f.outcome.value}[/]",
            f.severity.value,
            str(ev.status or ""),
            ev.code or "",
            detail[:160],
        )
    console.print(table)


def redteam(
    target: str = typer.Option(..., "--target", help="The gateway's base URL."),
    key: str = typer.Option(
        ..., "--key", envvar="BASTION_REDTEAM_KEY", help="API key to attack with."
    ),
    second_key: str | None = typer.Option(
        None,
        "--second-key",
        envvar="BASTION_REDTEAM_SECOND_KEY",
        help="A key of another user or tenant, for the cross-user probes.",
    ),
    model: str | None = typer.Option(None, help="Model to attack (default: the first listed)."),
    scenarios: str | None = typer.Option(
        None, "--scenarios", help=f"Comma-separated subset of: {', '.join(SCENARIOS)}."
    ),
    limit: int | None = typer.Option(
        None, min=1, help="At most N attacks (lures) per scenario; each runs once per goal."
    ),
    goals: str = typer.Option(
        "loud,quiet",
        "--goals",
        help="Goal styles each injection lure runs with: loud, quiet or both.",
    ),
    concurrency: int = typer.Option(4, min=1, max=64, help="Requests in flight at once."),
    timeout: float = typer.Option(60.0, min=1.0, help="Seconds per request."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the JSON report here."),
    markdown_path: Path | None = typer.Option(None, "--markdown", help="Write Markdown here."),
    save_dir: Path | None = typer.Option(
        None,
        "--save-dir",
        help="Keep redteam-<UTC time>.json here (default $BASTION_DATA_DIR/redteam/).",
    ),
    garak: bool = typer.Option(False, "--garak", help="Also run garak if it is installed."),
    action_email: str = typer.Option(
        "redteam@example.com", help="Recipient of the send_email proposal (approval probes)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List blocked findings too."),
) -> None:
    """Run AI-specific attacks against a running Bastion and report what got through."""
    chosen = tuple(s.strip() for s in scenarios.split(",") if s.strip()) if scenarios else SCENARIOS
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown or not chosen:
        die(
            f"unknown scenario(s): {', '.join(unknown) or '(none given)'}; "
            f"known: {', '.join(SCENARIOS)}"
        )
    styles = [g.strip() for g in goals.split(",") if g.strip()]
    known = [g.value for g in GoalStyle]
    if not styles or any(g not in known for g in styles):
        die(f"--goals: give loud, quiet or both (got {goals!r:.40})")
    options = RunOptions(
        target=target,
        key=key,
        second_key=second_key,
        model=model,
        scenarios=chosen,
        limit=limit,
        goals=tuple(GoalStyle(g) for g in styles),
        concurrency=concurrency,
        timeout=timeout,
        garak=garak,
        action_email=action_email,
    )
    try:
        report = asyncio.run(run_redteam(options))
    except TargetError as exc:
        die(str(exc))
    _print(report, verbose)
    try:
        if json_path is not None:
            write_json(report, json_path)
        if markdown_path is not None:
            write_markdown(report, markdown_path)
        directory = save_dir or _default_save_dir()
        if directory is not None:
            saved = save_report(report, directory)
            typer.echo(f"report saved: {saved}")
    except OSError as exc:
        die(f"cannot write the report ({exc.strerror or type(exc).__name__}: {exc.filename})")
    raise typer.Exit(report.exit_code)
