"""``bastion threat-model``: the deployment's threat model from its live configuration."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bastion.cli.common import die, now, open_admin_engine, settings_or_exit

__all__ = ["threat_model"]


def threat_model(
    format: str = typer.Option("markdown", "--format", help="markdown or json."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write here (default: stdout)."
    ),
) -> None:
    """Data inputs, outputs, action scope, trust boundaries, failure modes with blast
    radius, and the residency map, from the live configuration."""
    from bastion.governance.threat_model import gather
    from bastion.governance.threat_render import as_dict, render_markdown

    if format not in ("markdown", "json"):
        die("--format must be markdown or json")
    settings = settings_or_exit()
    engine = open_admin_engine(settings)
    try:
        model = gather(settings, engine, now)
    finally:
        engine.dispose()
    text = render_markdown(model) if format == "markdown" else json.dumps(as_dict(model), indent=2)
    if output is None:
        typer.echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    typer.echo(f"threat model written to {output}", err=True)
