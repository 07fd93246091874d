"""``bastion bom``: the deployment's AI bill of materials, as CycloneDX 1.6 JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from bastion.cli.common import now, open_admin_engine, settings_or_exit

__all__ = ["bom"]


def bom(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write here (default: stdout)."
    ),
) -> None:
    """Models (pinned versions, regions), upstream providers, local model artifacts with
    their SHA-256, and Python dependencies, as a CycloneDX document."""
    from bastion.governance.artifacts import local_artifacts
    from bastion.governance.bom import BomInputs, bom_json, build_bom
    from bastion.governance.registry import ModelRegistry

    settings = settings_or_exit()
    engine = open_admin_engine(settings)
    try:
        registry = ModelRegistry(engine, now)
        versions = {v.alias: v for v in registry.current()}
        served = registry.served(settings.models)
    finally:
        engine.dispose()
    document = bom_json(
        build_bom(BomInputs(served, versions, local_artifacts(settings.policies_dir)))
    )
    if output is None:
        typer.echo(document)
        return
    output.write_text(document + "\n", encoding="utf-8")
    typer.echo(f"bom written to {output} ({len(served)} model(s))", err=True)
