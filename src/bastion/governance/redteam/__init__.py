"""The built-in red team: AI-specific attacks against a running Bastion, judged by code.

``run_redteam(RunOptions(...))`` returns a :class:`RedTeamReport` of
:class:`Finding` s (blocked, got through, error, skipped; with severity, masked
evidence and, for injections, the :class:`GoalStyle` used). :func:`latest_report`
reads the newest report saved in a directory (the posture check's question: did a red
team run recently?). See ``docs/redteam.md``.
"""

from bastion.governance.redteam.judge import GoalStyle
from bastion.governance.redteam.report import (
    Evidence,
    Finding,
    Outcome,
    RedTeamReport,
    Severity,
)
from bastion.governance.redteam.runner import SCENARIOS, RunOptions, run_redteam
from bastion.governance.redteam.store import (
    latest_report,
    render_markdown,
    save_report,
    write_json,
    write_markdown,
)
from bastion.governance.redteam.target import TargetError

__all__ = [
    "SCENARIOS",
    "Evidence",
    "Finding",
    "GoalStyle",
    "Outcome",
    "RedTeamReport",
    "RunOptions",
    "Severity",
    "TargetError",
    "latest_report",
    "render_markdown",
    "run_redteam",
    "save_report",
    "write_json",
    "write_markdown",
]
