"""Run the chosen scenarios against a target and assemble the report."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bastion.governance.redteam.access_probes import run_cross_user
from bastion.governance.redteam.chat_probes import CHAT_SCENARIOS, run_chat_scenario
from bastion.governance.redteam.context import ALL_GOALS, Context
from bastion.governance.redteam.corpus import Attack, load_corpus
from bastion.governance.redteam.document_probes import DEFAULT_LURES, run_document_injection
from bastion.governance.redteam.garak import run_garak
from bastion.governance.redteam.judge import GoalStyle
from bastion.governance.redteam.report import Finding, RedTeamReport
from bastion.governance.redteam.target import Target, TargetError
from bastion.governance.redteam.tool_probes import run_approval_bypass, run_sql_tool_abuse

__all__ = ["SCENARIOS", "RunOptions", "run_redteam"]

SCENARIOS: tuple[str, ...] = (
    *CHAT_SCENARIOS,
    "document_injection",
    "cross_user",
    "sql_tool_abuse",
    "approval_bypass",
)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """``limit``: at most that many attacks (lures) per scenario; each lure of an
    injection scenario runs once per style in ``goals``."""

    target: str
    key: str = field(repr=False)
    second_key: str | None = field(default=None, repr=False)
    model: str | None = None
    scenarios: Sequence[str] = SCENARIOS
    limit: int | None = None
    goals: Sequence[GoalStyle] = ALL_GOALS
    concurrency: int = 4
    timeout: float = 60.0
    garak: bool = False
    action_email: str = "redteam@example.com"
    token: Callable[[int], str] = field(default=secrets.token_hex, repr=False)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)


def _select(attacks: list[Attack], scenario: str, limit: int | None) -> list[Attack]:
    """The scenario's attacks, spread over its vectors and sources when limited."""
    mine = [a for a in attacks if a.scenario == scenario]
    if limit is None or limit >= len(mine):
        return mine
    groups: dict[tuple[str, str], list[Attack]] = {}
    for a in mine:
        groups.setdefault((a.vector, a.source), []).append(a)
    picked: list[Attack] = []
    queues = list(groups.values())
    while len(picked) < limit:
        for queue in queues:
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return picked


async def run_redteam(options: RunOptions) -> RedTeamReport:
    """Run ``options.scenarios``; :class:`TargetError` when the target or key is unusable.

    Unknown scenario names or goal styles, or no goal style, are a ``ValueError``."""
    unknown = [s for s in options.scenarios if s not in SCENARIOS]
    if unknown:
        raise ValueError(
            f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}"
        )
    goals = tuple(dict.fromkeys(GoalStyle(g) for g in options.goals))
    if not goals:
        raise ValueError("goals: name at least one goal style (loud, quiet)")
    started = options.clock()
    async with Target(
        options.target, options.key, concurrency=options.concurrency, timeout=options.timeout
    ) as target:
        models = await target.preflight()
        second = target.with_key(options.second_key) if options.second_key else None
        if second is not None:
            try:
                await second.preflight()
            except TargetError as exc:
                raise TargetError(f"--second-key: {exc}") from None
        model = options.model or (models[0] if models else None)
        if model is None:
            raise TargetError("the key may use no model (GET /v1/models is empty); pass --model")
        ctx = Context(target, model, second, options.token, options.action_email, goals)
        corpus = load_corpus()
        findings: list[Finding] = []
        for scenario in options.scenarios:
            if scenario in CHAT_SCENARIOS:
                chosen = _select(corpus, scenario, options.limit)
                findings += await run_chat_scenario(ctx, chosen)
            elif scenario == "document_injection":
                lures = _select(corpus, "indirect_injection", options.limit or DEFAULT_LURES)
                findings += await run_document_injection(ctx, lures)
            elif scenario == "cross_user":
                findings += await run_cross_user(ctx, options.limit)
            elif scenario == "sql_tool_abuse":
                findings += await run_sql_tool_abuse(ctx, options.limit)
            elif scenario == "approval_bypass":
                findings += await run_approval_bypass(ctx, options.limit)
        scenarios = tuple(options.scenarios)
        if options.garak:
            findings += await run_garak(options.target, options.key, model)
            scenarios += ("garak",)
    return RedTeamReport(
        target=target.base_url,
        model=model,
        started_at=started,
        finished_at=options.clock(),
        scenarios=scenarios,
        findings=tuple(findings),
    )
