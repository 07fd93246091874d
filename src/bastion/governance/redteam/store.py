"""Reports on disk: JSON and Markdown files, the save directory, the newest report.

The save directory holds ``redteam-<UTC timestamp>.json`` files; :func:`latest_report`
is what the posture check reads to tell whether a red team ran recently.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC
from pathlib import Path

from bastion.governance.redteam.report import Outcome, RedTeamReport

__all__ = ["latest_report", "render_markdown", "save_report", "write_json", "write_markdown"]

_NAME = re.compile(r"^redteam-(\d{8}T\d{6}(?:\d{6})?Z)\.json$")


def write_json(report: RedTeamReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n", "utf-8")
    os.replace(tmp, path)


def write_markdown(report: RedTeamReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(report), "utf-8")


def save_report(report: RedTeamReport, directory: Path) -> Path:
    """Write ``report`` as ``redteam-<finished_at, UTC>.json`` in ``directory``."""
    stamp = report.finished_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"redteam-{stamp}.json"
    write_json(report, path)
    return path


def latest_report(directory: Path) -> RedTeamReport | None:
    """The newest readable report in ``directory`` (by the timestamp in its name), or
    None when there is none. Unreadable or foreign files are passed over."""
    if not directory.is_dir():
        return None
    named = sorted(
        (m.group(1), p) for p in directory.iterdir() if (m := _NAME.match(p.name)) and p.is_file()
    )
    for _, path in reversed(named):
        try:
            return RedTeamReport.from_dict(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def render_markdown(report: RedTeamReport) -> str:
    lines = [
        "# Bastion red team report",
        "",
        f"- target: `{report.target}`",
        f"- model: `{report.model}`",
        f"- started: {report.started_at.isoformat()}",
        f"- finished: {report.finished_at.isoformat()}",
        f"- exit code: {report.exit_code}",
        "",
        "## Summary",
        "",
        "| scenario | blocked | got through | error | skipped |",
        "|---|---|---|---|---|",
    ]
    for scenario, row in report.counts().items():
        lines.append(
            f"| {scenario} | {row['blocked']} | {row['got_through']} | {row['error']} "
            f"| {row['skipped']} |"
        )
    by_goal = report.goal_counts()
    if by_goal:
        lines += [
            "",
            "## By goal style",
            "",
            "Loud goals use override phrasing and ask for the system prompt; quiet goals "
            "only ask for a code word, so what blocks them is the lure.",
            "",
            "| scenario | goal | blocked | got through | error | skipped |",
            "|---|---|---|---|---|---|",
        ]
        for scenario, styles in by_goal.items():
            for goal, row in styles.items():
                lines.append(
                    f"| {scenario} | {goal} | {row['blocked']} | {row['got_through']} "
                    f"| {row['error']} | {row['skipped']} |"
                )
    worst = [f for f in report.findings if f.outcome is not Outcome.BLOCKED]
    lines += ["", "## Findings other than blocked", ""]
    if not worst:
        lines.append("None: every attack was blocked.")
    else:
        lines += [
            "| scenario | attack | goal | outcome | severity | status | code | evidence |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for f in sorted(worst, key=lambda f: (-f.severity.rank, f.scenario, f.attack_id)):
            ev = f.evidence
            detail = "; ".join(x for x in (", ".join(ev.markers), ev.note, ev.excerpt) if x)
            lines.append(
                f"| {f.scenario} | {f.attack_id} | {f.goal} | {f.outcome.value} "
                f"| {f.severity.value} | {ev.status or ''} | {ev.code or ''} | {_cell(detail)} |"
            )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:300]
