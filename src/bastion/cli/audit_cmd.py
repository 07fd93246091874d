"""``bastion audit verify|export``.

One tenant (``--tenant``) is read bound to it, as the application role may; every
tenant is maintenance work on the owner connection (``BASTION_DATABASE_ADMIN_URL``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from sqlalchemy import Engine

from bastion.audit import SealedContentError, export_jsonl, sealer_for, verify_chain
from bastion.cli.common import die, open_admin_engine, open_engine, settings_or_exit
from bastion.identity import IdentityError, IdentityService
from bastion.settings import Settings
from bastion.store.tenancy import TenantScopeError

__all__ = ["audit_app"]


def audit_app() -> typer.Typer:
    app = typer.Typer(help="Verify and export the audit log.", no_args_is_help=True)

    @app.command("verify")
    def verify(tenant: str | None = typer.Option(None, help="Only this tenant.")) -> None:
        """Check every tenant's hash chain; exit 1 naming the first bad record."""
        settings = settings_or_exit()
        engine = _engine_for(settings, tenant)
        try:
            tenant_id = IdentityService(engine).tenant_id(tenant) if tenant else None
            report = verify_chain(engine, tenant_id, sealer=sealer_for(settings, engine))
        except (IdentityError, SealedContentError, TenantScopeError) as exc:
            die(str(exc))
        finally:
            engine.dispose()
        typer.echo(report.describe())
        if not report.ok:
            raise typer.Exit(1)

    @app.command("export")
    def export(
        format: str = typer.Option("jsonl", "--format", help="Output format: jsonl."),
        tenant: str | None = typer.Option(None, help="Only this tenant."),
        output: Path | None = typer.Option(None, "--output", "-o", help="File (default stdout)."),
    ) -> None:
        """Export records, one JSON object per line, in chain order."""
        if format != "jsonl":
            die(f"unknown format {format!r}; supported: jsonl")
        settings = settings_or_exit()
        engine = _engine_for(settings, tenant)
        sealer = sealer_for(settings, engine)
        try:
            tenant_id = IdentityService(engine).tenant_id(tenant) if tenant else None
            if output is None:
                count = export_jsonl(engine, sys.stdout, tenant_id=tenant_id, sealer=sealer)
            else:
                with output.open("w", encoding="utf-8") as fh:
                    count = export_jsonl(engine, fh, tenant_id=tenant_id, sealer=sealer)
        except (IdentityError, TenantScopeError) as exc:
            die(str(exc))
        finally:
            engine.dispose()
        typer.echo(f"exported {count} records", err=True)

    return app


def _engine_for(settings: Settings, tenant: str | None) -> Engine:
    return open_engine(settings) if tenant else open_admin_engine(settings)
