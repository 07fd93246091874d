"""``bastion monitor``: run detection, automatic playbooks and SIEM forwarding in a
process of their own, beside gateways started with ``BASTION_STREAM_WORKERS=separate``
(their CPU then leaves the request path). Reads the same settings as ``serve``.

``--drain`` handles what the audit chain holds now and exits (cron, tests); without
it the command runs until SIGINT or SIGTERM. Only one process runs each stream at a
time (leases), so starting two is safe.
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

import typer

from bastion.cli.common import die, settings_or_exit
from bastion.logs import configure_logging

if TYPE_CHECKING:
    from bastion.gateway.runtime import Runtime

__all__ = ["monitor"]


def monitor(
    drain: bool = typer.Option(
        False, "--drain", help="Handle every record written so far, then exit."
    ),
) -> None:
    """Detection, automatic playbooks and SIEM forwarding, apart from the gateway."""
    from bastion.gateway.runtime import Runtime

    settings = settings_or_exit()
    if not settings.detection and not settings.siem_sinks:
        die("nothing to run: BASTION_DETECTION is off and BASTION_SIEM_SINKS is empty")
    configure_logging(settings.log_level)
    runtime = Runtime.build(settings)
    handled = asyncio.run(_run(runtime, drain))
    if handled is None:
        die(
            "reading every tenant's audit chain needs the owner connection on "
            "PostgreSQL: set BASTION_DATABASE_ADMIN_URL"
        )
    if drain:
        typer.echo(f"monitor: caught up ({handled} record(s) handled across streams)")


async def _run(runtime: Runtime, drain: bool) -> int | None:
    try:
        if drain:
            await runtime.start(monitoring=False)
            if not await runtime.monitoring.readable():
                return None
            return await runtime.monitoring.drain()
        await runtime.start(monitoring=True)
        if not runtime.monitoring.running:
            return None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        typer.echo("monitor: running; Ctrl-C to stop", err=True)
        await stop.wait()
        return 0
    finally:
        await runtime.aclose()
