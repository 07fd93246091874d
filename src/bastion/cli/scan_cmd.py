"""``bastion scan``: batch-scan JSON Lines from stdin, no server needed.

Contract (stable): each input line ``{"id", "text", "role"}``; each output line
``{"id", "decision", "score", "findings": [...], "text"}``. See
``bastion.scanners.batch`` for the details.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer

from bastion.cli.common import die, open_engine, settings_or_exit
from bastion.gateway.policies import PolicyStore, resolve_policy
from bastion.identity import IdentityError, IdentityService
from bastion.policy import Policy, PolicyError, default_policy, load_policy
from bastion.scanners import default_registry, scan_lines

__all__ = ["scan"]


def _tenant_policy(tenant: str) -> Policy:
    settings = settings_or_exit()
    engine = open_engine(settings)
    try:
        name = IdentityService(engine).tenant_policy(tenant)
    except IdentityError as exc:
        die(str(exc))
    finally:
        engine.dispose()
    return PolicyStore(settings.policies_dir, default_registry()).get(name).policy


def scan(
    policy: Path | None = typer.Option(None, "--policy", help="A policy TOML file."),
    tenant: str | None = typer.Option(None, help="Use this tenant's policy (needs the DB)."),
) -> None:
    """Scan JSON Lines from stdin with a policy's scanners; one result line per input."""
    if policy is not None and tenant is not None:
        die("give --policy or --tenant, not both")
    try:
        chosen = (
            load_policy(policy)
            if policy is not None
            else _tenant_policy(tenant)
            if tenant is not None
            else default_policy()
        )
        # Every table is checked (sso, sessions, access, rate_limits), not only scanners.
        pipeline = resolve_policy(chosen, default_registry()).pipeline
    except (PolicyError, ValueError) as exc:
        die(str(exc))

    async def run() -> None:
        out = sys.stdout
        async for line in scan_lines(sys.stdin, pipeline):
            out.write(line + "\n")
        out.flush()

    asyncio.run(run())
